"""The cached character n-gram hasher gives exactly scikit-learn's matrix."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from streams.text.hashing import CharWbHasher

TEXTS = [
    "you are such an idiot",
    "",
    "   ",
    "a",
    "tabs\tand\nnew  lines   everywhere",
    "انت غبي جدا والله",
    "mixed English و عربي 😀 emoji",
    "repeated repeated repeated words words",
]


def reference(texts: list[str], ngram: tuple[int, int] = (2, 5), bits: int = 12) -> np.ndarray:
    vectorizer = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=ngram,
        n_features=2**bits,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        dtype=np.float32,
    )
    return np.asarray(vectorizer.transform(texts).toarray())


@pytest.mark.parametrize("ngram", [(2, 5), (1, 3), (3, 3)])
def test_equals_scikit_learn(ngram: tuple[int, int]) -> None:
    hasher = CharWbHasher(ngram, 2**12)
    for _ in range(2):  # the second pass comes from the cache
        got = hasher.transform(TEXTS)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.toarray(), reference(TEXTS, ngram))


def test_empty_batch() -> None:
    assert CharWbHasher((2, 5), 2**12).transform([]).shape == (0, 2**12)


def test_cache_is_bounded_and_refills() -> None:
    hasher = CharWbHasher((2, 5), 2**12, cache_words=5)
    for text in TEXTS * 2:
        np.testing.assert_array_equal(hasher.transform([text]).toarray(), reference([text]))
        # at most the bound, or one batch's own words when a batch alone exceeds it
        assert len(hasher._cache) <= max(5, len(set(text.split())))


def test_any_text() -> None:
    rng = random.Random(5)  # seeded fuzz: the same texts on every run
    alphabet = "ab*!.,' \t\n\u00a0\u2028-_é😀ع١\x00"
    for _ in range(200):
        texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(3)]
        np.testing.assert_array_equal(
            CharWbHasher((2, 5), 2**12).transform(texts).toarray(), reference(texts)
        )
