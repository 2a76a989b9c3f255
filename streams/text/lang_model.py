"""One language's weights in the linear tier, and the explanation they give: how much each word's
own n-grams add to the toxic logit, and which words pass the span threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from streams.text.features import F32, F64, Featurizer
from streams.text.span_tagger import SpanTagger, join_adjacent


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
