"""The cascade: the fast tier judges every text, a transformer judges what it is unsure about.

A text goes to the transformer of its language when the fast tier's toxic probability lies in
the uncertainty band `[low, high]`. Its scores then become `blend·transformer + (1-blend)·fast`
per label the transformer has (blend 1.0 = the transformer's scores alone); labels only the fast
tier has keep the fast tier's scores.

Spans stay the fast tier's explanation (the transformer has none), kept consistent with the
final score: none at or below `EXPLAINED_ABOVE`; when the transformer lifts a text above it
that the fast tier left below, the span tagger's words, else the words with the largest
positive contributions to the fast tier's toxic logit (`LinearTextClassifier.contributions`).

Texts longer than one window are judged by windows (`streams/text/longtext.py`): the fast tier
scans every window, and only a sampled share of the windows plus those the fast tier flags may
go to the transformer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from streams.text.classifier import EXPLAINED_ABOVE, Classifier, TextScores
from streams.text.lang_model import select_spans
from streams.text.linear import LinearTextClassifier
from streams.text.longtext import LongTextOptions, by_length
from streams.text.onnx_model import OnnxTextClassifier

__all__ = ["DEFAULT_BAND", "DEFAULT_BLEND", "CascadeClassifier"]

# From held-out data (streams/text/models/en-minilm/MODEL_CARD.md) and `modstream bench classify`:
# it sends about a quarter of English texts (a fifth of all) to the transformer, and one process
# judges 786-844 held-out texts/s on the 2-core machine (target 500). Wider bands rank better
# (0.25-0.8: +0.008 English ROC-AUC) but cost the pipeline a third of its throughput; blends
# from 0.5 to 1 are within 0.003 ROC-AUC of each other.
DEFAULT_BAND: tuple[float, float] = (0.3, 0.7)
DEFAULT_BLEND = 0.5
_SPAN_RATIO_FALLBACK = 0.5  # spans for texts only the transformer finds toxic: >= half the top


class CascadeClassifier(Classifier):
    def __init__(
        self,
        fast: LinearTextClassifier,
        transformers: Mapping[str, OnnxTextClassifier],
        *,
        band: tuple[float, float] = DEFAULT_BAND,
        blend: float = DEFAULT_BLEND,
        long_text: LongTextOptions | None = None,
    ) -> None:
        low, high = band
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"the band must satisfy 0 <= low <= high <= 1, got {band}")
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {blend}")
        self.fast = fast
        self.transformers = dict(transformers)
        self.band = (float(low), float(high))
        self.blend = float(blend)
        self.long_text = long_text or LongTextOptions()
        seen = dict.fromkeys(fast.labels)
        for t in self.transformers.values():
            seen.update(dict.fromkeys(t.labels))
        self._labels = tuple(seen)
        parts = [fast.version] + [f"{k}={t.version}" for k, t in sorted(self.transformers.items())]
        parts.append(f"band={self.band[0]:g}-{self.band[1]:g},blend={self.blend:g}")
        digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
        self._version = f"cascade-v1:{digest}"
        self.last_escalated = 0  # texts (windows) the last classify() call sent to a transformer
        self.escalated = 0
        self._second_tier_seconds = 0.0

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def describe(self) -> dict[str, str]:
        """The versions of the parts (for model cards and the worker's start-up log)."""
        out = {"fast": self.fast.version}
        out.update({f"transformer.{k}": t.version for k, t in self.transformers.items()})
        return out

    def uncertain(self, score: TextScores) -> bool:
        low, high = self.band
        return score.lang in self.transformers and low <= score.toxic <= high

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        self.escalated = 0
        self._second_tier_seconds = 0.0
        out = by_length(
            texts, langs, self.long_text,
            lambda ts, ls: self.second_opinion(ts, self.fast.classify(ts, ls)),
            self.fast, self.second_opinion,
        )  # fmt: skip
        self.last_escalated = self.escalated
        self.last_second_tier_seconds = self._second_tier_seconds
        return out

    def second_opinion(
        self,
        texts: Sequence[str],
        first: Sequence[TextScores],
        allowed: Sequence[bool] | None = None,
    ) -> list[TextScores]:
        """The fast tier's scores `first`, with the texts it is unsure of (and `allowed`)
        judged by the transformer of their language; adds to `self.escalated`."""
        out = list(first)
        escalated = 0
        for lang, model in self.transformers.items():
            idx = [
                i
                for i, s in enumerate(first)
                if s.lang == lang and self.uncertain(s) and (allowed is None or allowed[i])
            ]
            if not idx:
                continue
            escalated += len(idx)
            started = time.perf_counter()
            second = model.classify([texts[i] for i in idx], [lang] * len(idx))
            self._second_tier_seconds += time.perf_counter() - started
            unexplained: list[int] = []
            for i, t in zip(idx, second, strict=True):
                f = first[i]
                labels = dict(f.labels)
                for lab, p in t.labels.items():
                    base = f.labels.get(lab, p)
                    labels[lab] = self.blend * p + (1.0 - self.blend) * base
                toxic = labels["toxic"]
                if toxic <= EXPLAINED_ABOVE:
                    spans: list[tuple[int, int]] = []
                elif f.toxic > EXPLAINED_ABOVE:
                    spans = f.spans
                else:
                    spans = []
                    unexplained.append(i)
                out[i] = replace(f, toxic=toxic, labels=labels, spans=spans)
            if unexplained:
                self._explain(texts, out, unexplained, lang)
        self.escalated += escalated
        return out

    def _explain(
        self, texts: Sequence[str], out: list[TextScores], rows: Sequence[int], lang: str
    ) -> None:
        """Spans for texts the transformer lifted above `EXPLAINED_ABOVE`: the
        language's span tagger where it has one, else (or where the tagger marks nothing) the
        words whose own n-grams weigh most toward toxic."""
        model_lang = lang if lang in self.fast.models else "en"
        model = self.fast.models[model_lang]
        if model.tagger is not None:
            tagged = model.tagger.spans([texts[i] for i in rows])
            for i, spans in zip(rows, tagged, strict=True):
                out[i] = replace(out[i], spans=spans)
            rows = [i for i in rows if not out[i].spans]
        if not rows or model.span_threshold is None:  # no explainer for this language
            return
        contribs = self.fast.contributions([texts[i] for i in rows], model_lang)
        for i, (ranges, contrib) in zip(rows, contribs, strict=True):
            if len(ranges) == 0 or float(np.max(contrib)) <= 0.0:
                continue
            spans = select_spans(
                texts[i], ranges, contrib, 0.0, max(model.span_ratio, _SPAN_RATIO_FALLBACK)
            )
            out[i] = replace(out[i], spans=spans)
