"""The fast tier: hashed character + word n-grams, one logistic regression per language and label.

The artifact is pickle-free: `model.json` (feature parameters, labels, calibration, span settings)
and `weights.npz` (idf vectors, coefficients and intercepts as plain arrays). The vectoriser is
stateless (hashed n-grams with fixed parameters), so the artifact fully defines the model.

Probabilities are Platt-calibrated on out-of-fold scores with classes balanced within each source,
then shifted so that 0.5 is the threshold with the best out-of-fold macro-F1. The rule labels
of `streams.text.rules` (`threat`, `harassment`) are added to every result; a rule match makes a
text at least `TOXIC_FLOOR` toxic. Spans explain every text scored above `EXPLAINED_ABOVE`: the
words the span tagger (`streams.text.span_tagger`) marks where the language has one, else the
words whose own n-grams contribute most to the toxic logit; plus the words a rule matched.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

from infra.errors import ModelError
from streams.text.classifier import EXPLAINED_ABOVE, Classifier, TextScores, merge_spans
from streams.text.hashing import CharWbHasher
from streams.text.language import SUPPORTED, detect_language
from streams.text.normalize import normalize
from streams.text.rules import (
    RULE_LABELS,
    RULES_VERSION,
    TOXIC_FLOOR,
    RuleHit,
    match_rules,
    rule_scores,
)
from streams.text.span_tagger import N_FEATURES as TAGGER_FEATURES
from streams.text.span_tagger import SpanTagger, join_adjacent, word_ranges

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

FORMAT = "modstream-text-linear"
FORMAT_VERSION = 2
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
MAX_CHARS = 10_000  # longer texts are scored on their first MAX_CHARS characters
_TRAIN_HINT = "run `modstream train` to build the text model"

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Punctuation and symbols become spaces (keeping @, * and ' which carry mentions and obfuscations);
# underscores split hashtags such as #word_word.
_PUNCT_RE = re.compile(r"[^\w\s@*']|_")
_WORD_PATTERN = r"(?u)\b\w+\b"


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    char_ngram: tuple[int, int] = (2, 5)
    char_bits: int = 20
    word_ngram: tuple[int, int] = (1, 2)
    word_bits: int = 19

    def to_json(self) -> dict[str, Any]:
        return {
            "char_ngram": list(self.char_ngram),
            "char_bits": self.char_bits,
            "word_ngram": list(self.word_ngram),
            "word_bits": self.word_bits,
            "char_analyzer": "char_wb",
            "word_token_pattern": _WORD_PATTERN,
            "tf": "log1p",
            "norm": "l2 per block",
            "hash": "murmur3, alternate_sign=False",
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FeatureSpec:
        return cls(
            char_ngram=(int(obj["char_ngram"][0]), int(obj["char_ngram"][1])),
            char_bits=int(obj["char_bits"]),
            word_ngram=(int(obj["word_ngram"][0]), int(obj["word_ngram"][1])),
            word_bits=int(obj["word_bits"]),
        )

    @property
    def n_features(self) -> int:
        return int(2**self.char_bits + 2**self.word_bits)


class Featurizer:
    """Stateless text → sparse count blocks (char, word); idf weighting is applied separately."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._char = CharWbHasher(spec.char_ngram, 2**spec.char_bits)
        self._word = HashingVectorizer(
            analyzer="word",
            ngram_range=spec.word_ngram,
            token_pattern=_WORD_PATTERN,
            n_features=2**spec.word_bits,
            alternate_sign=False,
            norm=None,
            lowercase=False,
            dtype=np.float32,
        )

    @staticmethod
    def prepare(text: str) -> str:
        text = normalize(text[:MAX_CHARS])
        return _PUNCT_RE.sub(" ", text)

    def counts(self, prepared: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        return self._char.transform(prepared).tocsr(), self._word.transform(prepared).tocsr()

    @staticmethod
    def weigh(
        blocks: tuple[sp.csr_matrix, sp.csr_matrix], idf: tuple[F32, F32]
    ) -> tuple[sp.csr_matrix, list[F64]]:
        """log1p(tf)·idf per block, each block L2-normalised; also returns the per-block norms."""
        out = []
        norms: list[F64] = []
        for block, weights in zip(blocks, idf, strict=True):
            b = block.astype(np.float32, copy=True)
            b.data = np.log1p(b.data) * weights[b.indices]
            sq = np.asarray(b.multiply(b).sum(axis=1), dtype=np.float64).ravel()
            norm = np.sqrt(sq)
            norm[norm == 0] = 1.0
            b = sp.csr_matrix(sp.diags((1.0 / norm).astype(np.float32)) @ b)
            out.append(b)
            norms.append(norm)
        return sp.hstack(out, format="csr"), norms


def compute_idf(blocks: tuple[sp.csr_matrix, sp.csr_matrix]) -> tuple[F32, F32]:
    idf = []
    for block in blocks:
        n = block.shape[0]
        df = np.bincount(block.indices, minlength=block.shape[1])
        idf.append((np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32))
    return idf[0], idf[1]


@dataclass(slots=True)
class LangModel:
    """One language's weights: rows of `coef` are labels, calibration maps logit a·z + b."""

    lang: str
    labels: tuple[str, ...]
    idf: tuple[F32, F32]
    coef: F32  # (n_labels, n_features)
    intercept: F32  # (n_labels,)
    calib_a: F32  # (n_labels,)
    calib_b: F32  # (n_labels,)
    span_threshold: float | None = None  # None: no spans for this language
    span_ratio: float = 0.0
    tagger: SpanTagger | None = None  # the learned span tagger, where the language has one
    info: dict[str, Any] = field(default_factory=dict)
    # `x @ coef.T` would copy the whole (transposed) matrix on every call: most of the cost of a
    # short batch, which is what the composer's keystrokes send.
    coef_t: F32 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.coef_t = np.ascontiguousarray(self.coef.T)
        self.coef = self.coef_t.T  # a view: one copy of the weights in memory

    def logits(self, x: sp.csr_matrix) -> F64:
        z = np.asarray(x @ self.coef_t, dtype=np.float64) + self.intercept
        return np.asarray(z * self.calib_a + self.calib_b, dtype=np.float64)

    def token_contributions(
        self,
        featurizer: Featurizer,
        doc_blocks: tuple[sp.csr_matrix, sp.csr_matrix],
        doc_norms: Sequence[F64],
        tokens: Sequence[str],
        token_doc: NDArray[np.int64],
    ) -> F64:
        """Calibrated toxic-logit contribution of each token's own n-grams.

        `doc_blocks` are the count blocks of the documents, `token_doc[i]` the document row of
        token i. A document feature's weight is shared among the tokens that produce it in
        proportion to their counts (exact for char_wb n-grams and word unigrams; word bigrams,
        which span two tokens, are left out).
        """
        t_blocks = featurizer.counts([featurizer.prepare(t) for t in tokens])
        col = self.labels.index("toxic")
        contrib = np.zeros(len(tokens), dtype=np.float64)
        offset = 0
        for t_block, d_block, idf, norm in zip(
            t_blocks, doc_blocks, self.idf, doc_norms, strict=True
        ):
            width = d_block.shape[1]
            d_block.sort_indices()
            d_rows = np.repeat(np.arange(d_block.shape[0], dtype=np.int64), np.diff(d_block.indptr))
            d_keys = d_rows * width + d_block.indices
            t_rows = np.repeat(np.arange(t_block.shape[0], dtype=np.int64), np.diff(t_block.indptr))
            t_feat = t_block.indices.astype(np.int64)
            doc = token_doc[t_rows]
            keys = doc * width + t_feat
            pos = np.minimum(np.searchsorted(d_keys, keys), max(len(d_keys) - 1, 0))
            if len(d_keys) == 0:
                offset += width
                continue
            found = d_keys[pos] == keys
            c = np.where(found, d_block.data[pos], 0.0).astype(np.float64)
            safe = np.where(found, c, 1.0)
            w = self.coef[col, offset + t_feat].astype(np.float64)
            per = np.where(found, np.log1p(safe) * idf[t_feat] * w / (norm[doc] * safe), 0.0)
            contrib += np.bincount(t_rows, weights=t_block.data * per, minlength=len(tokens))
            offset += width
        return contrib * float(self.calib_a[col])


def select_spans(
    text: str, ranges: Sequence[tuple[int, int]], contrib: F64, threshold: float, ratio: float
) -> list[tuple[int, int]]:
    """Tokens whose contribution passes the threshold, adjacent ones merged across whitespace."""
    if len(ranges) == 0:
        return []
    cut = max(threshold, ratio * float(contrib.max()))
    return join_adjacent(text, ranges, contrib > cut)


def _with_rule_words(
    spans: list[tuple[int, int]], hits: Sequence[RuleHit]
) -> list[tuple[int, int]]:
    """A text's spans plus the words its rules matched."""
    return merge_spans([*spans, *((h.start, h.end) for h in hits)]) if hits else spans


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
        for model_lang, model in self.models.items():
            idx = [i for i, (m, _) in enumerate(routes) if m == model_lang]
            if not idx:
                continue
            sub = [texts[i] for i in idx]
            blocks = self.featurizer.counts([self.featurizer.prepare(t) for t in sub])
            x, norms = self.featurizer.weigh(blocks, model.idf)
            probs = 1.0 / (1.0 + np.exp(-model.logits(x)))
            hits = [match_rules(t, routes[i][1]) for t, i in zip(sub, idx, strict=True)]
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
            for j, i in enumerate(idx):
                results[i] = TextScores(
                    toxic=labels[j]["toxic"],
                    labels=labels[j],
                    lang=routes[i][1],
                    spans=_with_rule_words(spans.get(j, []), hits[j]),
                )
        return [r for r in results if r is not None]

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
            sub = [texts[i] for i in idx]
            if model.tagger is not None:
                found = model.tagger.spans(sub)
            else:
                blocks = self.featurizer.counts([self.featurizer.prepare(t) for t in sub])
                _, norms = self.featurizer.weigh(blocks, model.idf)
                found = self._spans(model, sub, blocks, norms, range(len(sub)))
            for i, spans in zip(idx, found, strict=True):
                out[i] = _with_rule_words(spans, match_rules(texts[i], routes[i][1]))
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
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        langs: dict[str, Any] = {}
        for lang, m in self.models.items():
            arrays[f"{lang}.idf.char"] = m.idf[0]
            arrays[f"{lang}.idf.word"] = m.idf[1]
            arrays[f"{lang}.coef"] = m.coef.astype(np.float32)
            arrays[f"{lang}.intercept"] = m.intercept.astype(np.float32)
            if m.tagger is not None:
                arrays[f"{lang}.span.coef"] = m.tagger.coef.astype(np.float32)
            langs[lang] = {
                "labels": list(m.labels),
                "calibration": {
                    lab: [float(m.calib_a[k]), float(m.calib_b[k])]
                    for k, lab in enumerate(m.labels)
                },
                "span_threshold": m.span_threshold,
                "span_ratio": m.span_ratio,
                "span_tagger": None if m.tagger is None else m.tagger.settings(),
                "info": m.info,
            }
        weights_path = directory / WEIGHTS_FILE
        with weights_path.open("wb") as fh:
            np.savez_compressed(fh, allow_pickle=False, **arrays)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features": self.spec.to_json(),
            "languages": langs,
            "meta": self.meta,
        }
        model_bytes = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
        (directory / MODEL_FILE).write_bytes(model_bytes)
        self._version = _version_of(model_bytes, weights_path.read_bytes())
        return self._version

    @classmethod
    def load(cls, directory: Path) -> LinearTextClassifier:
        model_path, weights_path = directory / MODEL_FILE, directory / WEIGHTS_FILE
        if not model_path.is_file() or not weights_path.is_file():
            raise ModelError(
                f"no text model in {directory} (need {MODEL_FILE}, {WEIGHTS_FILE}); {_TRAIN_HINT}"
            )
        try:
            model_bytes = model_path.read_bytes()
            weights_bytes = weights_path.read_bytes()
            doc = json.loads(model_bytes)
            if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
                raise ModelError(
                    f"{model_path} is not a {FORMAT} v{FORMAT_VERSION} artifact "
                    f"(found {doc.get('format')!r} v{doc.get('format_version')!r}); {_TRAIN_HINT}"
                )
            spec = FeatureSpec.from_json(doc["features"])
            models: dict[str, LangModel] = {}
            with np.load(weights_path, allow_pickle=False) as npz:
                for lang, info in doc["languages"].items():
                    labels = tuple(str(x) for x in info["labels"])
                    idf = (
                        np.asarray(npz[f"{lang}.idf.char"], dtype=np.float32),
                        np.asarray(npz[f"{lang}.idf.word"], dtype=np.float32),
                    )
                    coef = np.asarray(npz[f"{lang}.coef"], dtype=np.float32)
                    intercept = np.asarray(npz[f"{lang}.intercept"], dtype=np.float32)
                    calib = np.asarray(
                        [info["calibration"][lab] for lab in labels], dtype=np.float32
                    ).reshape(len(labels), 2)
                    if (
                        idf[0].shape != (2**spec.char_bits,)
                        or idf[1].shape != (2**spec.word_bits,)
                        or coef.shape != (len(labels), spec.n_features)
                        or intercept.shape != (len(labels),)
                        or "toxic" not in labels
                    ):
                        raise ModelError(
                            f"{weights_path}: arrays of {lang} do not match; {_TRAIN_HINT}"
                        )
                    thr = info.get("span_threshold")
                    tagger = None
                    if info.get("span_tagger"):
                        t = info["span_tagger"]
                        tcoef = np.asarray(npz[f"{lang}.span.coef"], dtype=np.float32)
                        if tcoef.shape != (TAGGER_FEATURES,):
                            raise ModelError(
                                f"{weights_path}: span tagger of {lang} does not match;"
                                f" {_TRAIN_HINT}"
                            )
                        tagger = SpanTagger(
                            tcoef,
                            float(t["intercept"]),
                            float(t["threshold"]),
                            float(t["floor"]),
                            float(t["ratio"]),
                        )
                    models[lang] = LangModel(
                        lang=lang,
                        labels=labels,
                        idf=idf,
                        coef=coef,
                        intercept=intercept,
                        calib_a=calib[:, 0].copy(),
                        calib_b=calib[:, 1].copy(),
                        span_threshold=None if thr is None else float(thr),
                        span_ratio=float(info.get("span_ratio", 0.0)),
                        tagger=tagger,
                        info=dict(info.get("info", {})),
                    )
            return cls(
                spec,
                models,
                version=_version_of(model_bytes, weights_bytes),
                meta=dict(doc.get("meta", {})),
            )
        except ModelError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ModelError(f"corrupt text model in {directory}: {exc}; {_TRAIN_HINT}") from exc
        except Exception as exc:  # zipfile.BadZipFile and friends from np.load
            raise ModelError(f"corrupt text model in {directory}: {exc!r}; {_TRAIN_HINT}") from exc


def _version_of(model_bytes: bytes, weights_bytes: bytes) -> str:
    h = hashlib.sha256()
    h.update(RULES_VERSION.encode())  # the rules are part of what the classifier answers
    h.update(model_bytes)
    h.update(weights_bytes)
    return f"linear-v1:{h.hexdigest()[:12]}"
