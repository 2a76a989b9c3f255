"""The fast tier: hashed character + word n-grams, one logistic regression per language and label.

The features (`streams.text.features`) are stateless, so the artifact
(`streams.text.linear_artifact`: pickle-free JSON and npz) fully defines the model; each
language's weights are a `streams.text.lang_model.LangModel`.

Probabilities are Platt-calibrated on out-of-fold scores with classes balanced within each source,
then shifted so that 0.5 is the threshold with the best out-of-fold macro-F1. The rule labels
of `streams.text.rules` (`threat`, `harassment`) are added to every result; a rule match makes a
text at least `TOXIC_FLOOR` toxic. Spans explain every text scored above `EXPLAINED_ABOVE`: the
words the span tagger (`streams.text.span_tagger`) marks where the language has one, else the
words whose own n-grams contribute most to the toxic logit; plus the words a rule matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from streams.text import linear_artifact
from streams.text.arabizi import Transliteration, latin_view, written_in_latin
from streams.text.classifier import EXPLAINED_ABOVE, Classifier, TextScores, merge_spans
from streams.text.features import F64, MAX_CHARS, FeatureSpec, Featurizer
from streams.text.lang_model import LangModel, select_spans
from streams.text.language import SUPPORTED, detect_language
from streams.text.linear_artifact import FORMAT, FORMAT_VERSION, MODEL_FILE, WEIGHTS_FILE
from streams.text.rules import RULE_LABELS, TOXIC_FLOOR, RuleHit, match_rules, rule_scores
from streams.text.span_tagger import word_ranges

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "WEIGHTS_FILE",
    "FeatureSpec",
    "Featurizer",
    "LangModel",
    "LinearTextClassifier",
]


def _with_rule_words(
    spans: list[tuple[int, int]], hits: Sequence[RuleHit]
) -> list[tuple[int, int]]:
    """A text's spans plus the words its rules matched."""
    return merge_spans([*spans, *((h.start, h.end) for h in hits)]) if hits else spans


_ENGLISH_WINS_ABOVE = 0.5


def _model_texts(
    model_lang: str, texts: list[str]
) -> tuple[list[str], list[Transliteration | None]]:
    """What the model of `model_lang` reads: Arabic written in Latin letters (Arabizi) is read
    in Arabic script by the Arabic model; each text's transliteration maps its spans back."""
    if model_lang != "ar":
        return texts, [None] * len(texts)
    views = [latin_view(t) for t in texts]
    return [t if v is None else v.text for t, v in zip(texts, views, strict=True)], views


def _original(view: Transliteration | None, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return spans if view is None else view.original_spans(spans)


def _canonical_lang(lang: str | None) -> str | None:
    if lang is None:
        return None
    return lang.strip().lower().replace("_", "-").split("-", 1)[0] or None


class LinearTextClassifier(Classifier):
    def __init__(
        self,
        spec: FeatureSpec,
        models: dict[str, LangModel],
        *,
        version: str = "linear-v1:unsaved",
        meta: dict[str, Any] | None = None,
    ) -> None:
        if "en" not in models:
            raise ValueError("an English model is required (it scores undetermined languages)")
        self.spec = spec
        self.featurizer = Featurizer(spec)
        self.models = models
        self.meta = meta or {}
        self._version = version
        seen: dict[str, None] = {}
        for m in models.values():
            seen.update(dict.fromkeys(m.labels))
        seen.update(dict.fromkeys(RULE_LABELS))
        self._labels = tuple(seen)

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def _route(self, text: str, given: str | None) -> tuple[str, str]:
        """(model language, reported language)."""
        lang = _canonical_lang(given)
        if lang in self.models:
            return lang, lang
        detected = detect_language(text)
        model = detected if detected in self.models else "en"
        if lang is not None:  # the producer named a language we have no model for
            return model, "und"
        return model, detected if detected in SUPPORTED else "und"

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        if langs is not None and len(langs) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(langs)} languages")
        routes = [
            self._route(t, langs[i] if langs is not None else None) for i, t in enumerate(texts)
        ]
        results: list[TextScores | None] = [None] * len(texts)
        for model_lang in self.models:
            idx = [i for i, (m, _) in enumerate(routes) if m == model_lang]
            if idx:
                judged = self._judge(
                    model_lang, [texts[i] for i in idx], [routes[i][1] for i in idx]
                )
                for i, scores in zip(idx, judged, strict=True):
                    results[i] = scores
        # Latin script read as Arabizi is read by the English model too, which wins where it
        # finds the text harmful and the Arabic model does not: English leetspeak ("r3tard")
        # can pass for Arabizi. (Its score for benign Arabizi, 0.1-0.2, must not win.)
        latin = [i for i, (m, _) in enumerate(routes) if m == "ar" and written_in_latin(texts[i])]
        if latin:
            english = self._judge("en", [texts[i] for i in latin], ["en"] * len(latin))
            for i, scores in zip(latin, english, strict=True):
                arabic = results[i]
                if arabic is None or scores.toxic > max(arabic.toxic, _ENGLISH_WINS_ABOVE):
                    results[i] = replace(scores, lang=routes[i][1])
        return [r for r in results if r is not None]

    def _judge(self, model_lang: str, texts: list[str], langs: list[str]) -> list[TextScores]:
        """`texts` scored by the model of `model_lang`; `langs` are the languages reported."""
        model = self.models[model_lang]
        sub, views = _model_texts(model_lang, texts)
        blocks = self.featurizer.counts([self.featurizer.prepare(t) for t in sub])
        x, norms = self.featurizer.weigh(blocks, model.idf)
        probs = 1.0 / (1.0 + np.exp(-model.logits(x)))
        hits = [match_rules(t, lang) for t, lang in zip(sub, langs, strict=True)]
        labels = []
        for j in range(len(sub)):
            lab = {name: float(probs[j, k]) for k, name in enumerate(model.labels)}
            lab.update(rule_scores(hits[j]))
            if hits[j]:
                lab["toxic"] = max(lab["toxic"], TOXIC_FLOOR)
            labels.append(lab)
        toxic_rows = [j for j in range(len(sub)) if labels[j]["toxic"] > EXPLAINED_ABOVE]
        spans = dict(
            zip(toxic_rows, self._spans(model, sub, blocks, norms, toxic_rows), strict=True)
        )
        return [
            TextScores(
                toxic=labels[j]["toxic"],
                labels=labels[j],
                lang=langs[j],
                spans=_original(views[j], _with_rule_words(spans.get(j, []), hits[j])),
            )
            for j in range(len(sub))
        ]

    def explain(
        self, texts: Sequence[str], langs: Sequence[str | None]
    ) -> list[list[tuple[int, int]] | None]:
        """The spans `classify` gives a text scored above `EXPLAINED_ABOVE`, for texts scored
        elsewhere (`Explainer`); None past MAX_CHARS, which the models do not read."""
        routes = [self._route(t, lang) for t, lang in zip(texts, langs, strict=True)]
        out: list[list[tuple[int, int]] | None] = [None] * len(texts)
        for model_lang, model in self.models.items():
            idx = [
                i
                for i, (m, _) in enumerate(routes)
                if m == model_lang and len(texts[i]) <= MAX_CHARS
            ]
            if not idx:
                continue
            sub, views = _model_texts(model_lang, [texts[i] for i in idx])
            if model.tagger is not None:
                found = model.tagger.spans(sub)
            else:
                blocks = self.featurizer.counts([self.featurizer.prepare(t) for t in sub])
                _, norms = self.featurizer.weigh(blocks, model.idf)
                found = self._spans(model, sub, blocks, norms, range(len(sub)))
            for j, (i, spans) in enumerate(zip(idx, found, strict=True)):
                hits = match_rules(sub[j], routes[i][1])
                out[i] = _original(views[j], _with_rule_words(spans, hits))
        return out

    def _spans(
        self,
        model: LangModel,
        texts: Sequence[str],
        blocks: tuple[sp.csr_matrix, sp.csr_matrix],
        norms: list[F64],
        rows: Sequence[int],
    ) -> list[list[tuple[int, int]]]:
        """The explanation of each text `texts[rows[k]]` (all scored above `EXPLAINED_ABOVE`)."""
        chosen = [texts[j] for j in rows]
        if model.tagger is not None:
            return model.tagger.spans(chosen)
        if model.span_threshold is None:
            return [[] for _ in rows]
        return [
            select_spans(text, ranges, contrib, model.span_threshold, model.span_ratio)
            for text, (ranges, contrib) in zip(
                chosen, self._contributions(model, chosen, blocks, norms, rows), strict=True
            )
        ]

    def _contributions(
        self,
        model: LangModel,
        texts: Sequence[str],
        blocks: tuple[sp.csr_matrix, sp.csr_matrix],
        norms: list[F64],
        rows: Sequence[int],
    ) -> list[tuple[list[tuple[int, int]], F64]]:
        """Token ranges and contributions for `texts`, whose counts are `blocks[rows]`."""
        if not texts:
            return []
        per_text = [word_ranges(t) for t in texts]
        tokens = [tok for _, toks in per_text for tok in toks]
        sizes = [len(toks) for _, toks in per_text]
        if not tokens:
            return [([], np.zeros(0)) for _ in texts]
        token_doc = np.repeat(np.arange(len(texts), dtype=np.int64), sizes)
        r = np.asarray(rows, dtype=np.int64)
        contrib = model.token_contributions(
            self.featurizer,
            (blocks[0][r], blocks[1][r]),
            [norms[0][r], norms[1][r]],
            tokens,
            token_doc,
        )
        out = []
        start = 0
        for (ranges, _), n in zip(per_text, sizes, strict=True):
            out.append((ranges, contrib[start : start + n]))
            start += n
        return out

    def contributions(
        self, texts: Sequence[str], lang: str
    ) -> list[tuple[list[tuple[int, int]], F64]]:
        """Token ranges of each text and their toxic-logit contributions under the `lang` model."""
        model = self.models[lang]
        blocks = self.featurizer.counts([self.featurizer.prepare(t) for t in texts])
        _, norms = self.featurizer.weigh(blocks, model.idf)
        return self._contributions(model, texts, blocks, norms, range(len(texts)))

    # -- artifact -------------------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        """Write model.json + weights.npz into `directory`; returns (and adopts) the version."""
        self._version = linear_artifact.write(directory, self.spec, self.models, self.meta)
        return self._version

    @classmethod
    def load(cls, directory: Path) -> LinearTextClassifier:
        found = linear_artifact.read(directory)
        return cls(found.spec, found.models, version=found.version, meta=found.meta)
