"""The linear tier's features: hashed character and word n-grams of the normalised text, in two
blocks, each weighed log1p(tf)·idf and L2-normalised. Stateless (fixed parameters, hashing), so
the artifact's `FeatureSpec` fully defines them; the idf comes from training."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

from streams.text.arabic import fold_arabic
from streams.text.hashing import CharWbHasher
from streams.text.normalize import normalize

MAX_CHARS = 10_000  # longer texts are scored on their first MAX_CHARS characters

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Punctuation and symbols become spaces (keeping @, * and ' which carry mentions and obfuscations);
# underscores split hashtags such as #word_word.
_PUNCT_RE = re.compile(r"[^\w\s@*']|_")
_WORD_PATTERN = r"(?u)\b\w+\b"

# Folds a `FeatureSpec` may name, applied in its order after `normalize`.
FOLDS: dict[str, Callable[[str], str]] = {"arabic": fold_arabic}
# What new models are trained with.
DEFAULT_FOLD: tuple[str, ...] = ("arabic",)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    char_ngram: tuple[int, int] = (2, 5)
    char_bits: int = 20
    word_ngram: tuple[int, int] = (1, 2)
    word_bits: int = 19
    # Text folding after `normalize`, by name (`FOLDS`): "arabic" folds dialect spellings
    # (`streams.text.arabic`). Artifacts from before folding say nothing and read text as before.
    fold: tuple[str, ...] = DEFAULT_FOLD

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
            "fold": list(self.fold),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FeatureSpec:
        return cls(
            char_ngram=(int(obj["char_ngram"][0]), int(obj["char_ngram"][1])),
            char_bits=int(obj["char_bits"]),
            word_ngram=(int(obj["word_ngram"][0]), int(obj["word_ngram"][1])),
            word_bits=int(obj["word_bits"]),
            fold=tuple(str(f) for f in obj.get("fold", ())),
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

    def prepare(self, text: str) -> str:
        text = normalize(text[:MAX_CHARS])
        for name in self.spec.fold:
            text = FOLDS[name](text)
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
