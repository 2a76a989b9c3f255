"""Hashed character n-grams, one word at a time, remembered.

scikit-learn's `HashingVectorizer(analyzer="char_wb")` builds and hashes every n-gram of every
word in Python on each call: about 0.1 ms per short post, most of the fast tier's time. Its
n-grams never cross a word boundary, so a document's features are the sum of its words'. Words
repeat (Zipf), so `CharWbHasher` hashes each distinct word once, with scikit-learn itself, and
keeps the result: the same matrix for a few dictionary lookups per word.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

__all__ = ["CharWbHasher"]

_Row = tuple[NDArray[np.int32], NDArray[np.float32]]  # column indices, counts


class CharWbHasher:
    """Equal to `HashingVectorizer(analyzer="char_wb", ngram_range, n_features,
    alternate_sign=False, norm=None, lowercase=False, dtype=float32).transform`, with a bounded
    cache of word → hashed n-grams. Safe to share between threads (each call works on its own
    view of the cache; a full cache is simply dropped and refilled)."""

    def __init__(
        self, ngram_range: tuple[int, int], n_features: int, *, cache_words: int = 200_000
    ) -> None:
        self.n_features = n_features
        self.cache_words = cache_words
        self._vectorizer = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            n_features=n_features,
            alternate_sign=False,
            norm=None,
            lowercase=False,
            dtype=np.float32,
        )
        self._cache: dict[str, _Row] = {}

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        words = [doc.split() for doc in docs]
        rows = self._rows({w for ws in words for w in ws})
        lengths = np.zeros(len(docs) + 1, dtype=np.int64)
        parts_i: list[NDArray[np.int32]] = []
        parts_d: list[NDArray[np.float32]] = []
        for n, ws in enumerate(words):
            size = 0
            for w in ws:
                indices, counts = rows[w]
                parts_i.append(indices)
                parts_d.append(counts)
                size += len(indices)
            lengths[n + 1] = size
        indices = np.concatenate(parts_i) if parts_i else np.zeros(0, dtype=np.int32)
        data = np.concatenate(parts_d) if parts_d else np.zeros(0, dtype=np.float32)
        out = sp.csr_matrix((data, indices, np.cumsum(lengths)), shape=(len(docs), self.n_features))
        out.sum_duplicates()
        return out

    def _rows(self, distinct: set[str]) -> dict[str, _Row]:
        cache = self._cache
        found = {w: r for w in distinct if (r := cache.get(w)) is not None}
        missing = [w for w in distinct if w not in found]
        if missing:
            m = self._vectorizer.transform(missing).tocsr()
            m.sort_indices()
            for i, w in enumerate(missing):
                a, b = m.indptr[i], m.indptr[i + 1]
                found[w] = (m.indices[a:b].copy(), m.data[a:b].copy())
            if len(cache) + len(missing) > self.cache_words:
                cache = self._cache = {}
            cache.update((w, found[w]) for w in missing)
        return found
