"""The toxic-span tagger: which words of a toxic text are the toxic ones.

A logistic regression over the words of a text, trained on the gold character spans of the
toxic-spans set (SemEval-2021 Task 5): a word is toxic when at least half of its characters lie
in a gold span. Each word is described by its hashed character n-grams (char_wb 2-5) and by
hashed word features of itself and its neighbours (previous, next, the pairs they form), so
"kill" is told apart in "kill yourself" and "kill time".

Decoding (tuned for the SemEval metric, mean per-post character F1, on training posts held
apart from the fit): the words above `threshold` are toxic; when none is, the most probable word
is still marked if it clears `floor` (every post given to the tagger is toxic, and 90% of them
have a span); words below `ratio` × the top word's probability are dropped; marked words separated
only by whitespace merge into one span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from streams.text.hashing import CharWbHasher

__all__ = [
    "SpanTagger",
    "decode",
    "join_adjacent",
    "tokenize",
    "word_labels",
    "word_ranges",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

MAX_CHARS = 10_000
CHAR_BITS = 19
CONTEXT_BITS = 18
# A whitespace-delimited token without its leading and trailing punctuation (`*` is kept: it
# masks letters); group 1 is the word, from its first to its last word character.
_WORD_RE = re.compile(r"(?<!\S)[^\w*\s]*([\w*](?:\S*[\w*])?)[^\w*\s]*(?!\S)")
_CONTEXT_FEATURES = 6  # per word: W, L, R, LW, WR, L2 (`_ContextHasher`)
_REPEAT_RE = re.compile(r"(.)\1{2,}")

# The decoding's grid. 0 among the thresholds lets the ratio alone decide (the tuning picks it:
# threshold 0, ratio 0.6 gave 0.670 held-out char-F1 where the best of a grid from 0.25 to
# 0.5 and ratios to 0.5 gave 0.661).
THRESHOLDS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
FLOORS = (0.05, 0.1, 0.15, 0.2, 0.3)
RATIOS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
TUNE_SHARE = 0.2  # training posts kept apart from the fit to tune the decoding


def word_ranges(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """Whitespace-delimited words of `text` (its first MAX_CHARS characters) with leading and
    trailing punctuation stripped: their [start, end) ranges in `text`, and the words."""
    ranges: list[tuple[int, int]] = []
    words: list[str] = []
    for m in _WORD_RE.finditer(text[:MAX_CHARS]):
        ranges.append(m.span(1))
        words.append(m.group(1))
    return ranges, words


def tokenize(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """`word_ranges`, the words lowercased with repeated letters capped at two."""
    ranges, words = word_ranges(text)
    if not words:
        return ranges, []
    # One pass over the joined words: a run of one letter never crosses the single spaces.
    return ranges, _REPEAT_RE.sub(r"\1\1", " ".join(words).lower()).split(" ")


def word_labels(ranges: Sequence[tuple[int, int]], gold: Sequence[tuple[int, int]]) -> list[int]:
    """1 for each word with at least half of its characters inside a gold span."""
    chars = {i for s, e in gold for i in range(s, e)}
    return [1 if 2 * sum(1 for i in range(s, e) if i in chars) >= e - s else 0 for s, e in ranges]


class _ContextHasher:
    """Each word's context features — itself (`W:`), its neighbours (`L:`, `R:`, `L2:`) and the
    pairs with them (`LW:`, `WR:`) — as hashed columns: scikit-learn's `HashingVectorizer` over
    those feature strings (murmur3, as its `FeatureHasher`), with each word's and each word
    pair's columns computed once and remembered (a bounded cache)."""

    def __init__(self, n_features: int, cache: int = 500_000) -> None:
        self.n_features = n_features
        self.cache = cache
        self._words: dict[str, tuple[int, int, int, int]] = {}
        self._pairs: dict[tuple[str, str], tuple[int, int]] = {}

    def _column(self, feature: str) -> int:
        h = murmurhash3_32(feature, seed=0, positive=False)
        n = self.n_features
        return (2147483647 - (n - 1)) % n if h == -2147483648 else abs(h) % n

    def _word(self, w: str) -> tuple[int, int, int, int]:
        cols = self._words.get(w)
        if cols is None:
            if len(self._words) >= self.cache:
                self._words = {}
            c = self._column
            cols = self._words[w] = (c(f"W:{w}"), c(f"L:{w}"), c(f"R:{w}"), c(f"L2:{w}"))
        return cols

    def _pair(self, a: str, b: str) -> tuple[int, int]:
        cols = self._pairs.get((a, b))
        if cols is None:
            if len(self._pairs) >= self.cache:
                self._pairs = {}
            cols = self._pairs[a, b] = (self._column(f"LW:{a}_{b}"), self._column(f"WR:{a}_{b}"))
        return cols

    def transform(self, per_text: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """One row of counts per word, the words of all texts in order."""
        cols: list[int] = []
        for words in per_text:
            seq = ["<s>", "<s>", *words, "</s>"]
            own = [self._word(w) for w in seq]
            pairs = [self._pair(seq[k], seq[k + 1]) for k in range(1, len(seq) - 1)]
            for i in range(len(words)):
                j = i + 2  # the word's place in `seq`
                cols += (own[j][0], own[j - 1][1], own[j + 1][2], pairs[i][0], pairs[i + 1][1],
                         own[j - 2][3])  # fmt: skip
        rows = len(cols) // _CONTEXT_FEATURES
        out = sp.csr_matrix(
            (
                np.ones(len(cols), dtype=np.float32),
                np.asarray(cols, dtype=np.int32),
                np.arange(0, len(cols) + 1, _CONTEXT_FEATURES, dtype=np.int64),
            ),
            shape=(rows, self.n_features),
        )
        out.sum_duplicates()
        return out


class _Features:
    def __init__(self) -> None:
        self.chars = CharWbHasher((2, 5), 2**CHAR_BITS)
        self.context = _ContextHasher(2**CONTEXT_BITS)

    def __call__(self, per_text: Sequence[Sequence[str]]) -> sp.csr_matrix:
        words = [w for ws in per_text for w in ws]
        chars = normalize(self.chars.transform(words), norm="l2", copy=False)
        context = normalize(self.context.transform(per_text), norm="l2", copy=False)
        return sp.hstack([chars, context], format="csr")


FEATURES = _Features()
N_FEATURES = 2**CHAR_BITS + 2**CONTEXT_BITS


def decode(
    text: str,
    ranges: Sequence[tuple[int, int]],
    probs: F64,
    threshold: float,
    floor: float,
    ratio: float,
) -> list[tuple[int, int]]:
    """Spans from per-word probabilities (see the module docstring)."""
    if len(ranges) == 0:
        return []
    top = float(probs.max())
    if top <= floor:
        return []
    cut = max(min(threshold, top), ratio * top)
    return join_adjacent(text, ranges, probs >= cut)


def join_adjacent(
    text: str, ranges: Sequence[tuple[int, int]], keep: Sequence[bool] | NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """The kept word ranges as spans, neighbours with only whitespace between them joined."""
    spans: list[tuple[int, int]] = []
    for (s, e), kept in zip(ranges, keep, strict=True):
        if not kept:
            continue
        if spans and text[spans[-1][1] : s].isspace():
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


@dataclass(slots=True)
class SpanTagger:
    coef: F32  # (N_FEATURES,)
    intercept: float
    threshold: float = 0.3
    floor: float = 0.1
    ratio: float = 0.5

    def word_probs(self, texts: Sequence[str]) -> list[tuple[list[tuple[int, int]], F64]]:
        """Each text's word ranges and the probability that each word is toxic."""
        tokenized = [tokenize(t) for t in texts]
        if not any(words for _, words in tokenized):
            return [(ranges, np.zeros(0)) for ranges, _ in tokenized]
        x = FEATURES([words for _, words in tokenized])
        z = np.asarray(x @ self.coef, dtype=np.float64) + self.intercept
        p = 1.0 / (1.0 + np.exp(-z))
        out = []
        start = 0
        for ranges, words in tokenized:
            out.append((ranges, p[start : start + len(words)]))
            start += len(words)
        return out

    def spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [
            decode(t, ranges, p, self.threshold, self.floor, self.ratio)
            for t, (ranges, p) in zip(texts, self.word_probs(texts), strict=True)
        ]

    def settings(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "floor": self.floor,
            "ratio": self.ratio,
            "intercept": self.intercept,
            "features": f"char_wb 2-5 ({2**CHAR_BITS}) + word context ({2**CONTEXT_BITS})",
        }
