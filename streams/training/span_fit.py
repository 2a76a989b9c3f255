"""Fitting the span tagger: a logistic regression over word features, its decoding tuned on a
part of the training posts kept apart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from streams.text.span_tagger import (
    F32,
    FEATURES,
    FLOORS,
    RATIOS,
    THRESHOLDS,
    TUNE_SHARE,
    SpanTagger,
    decode,
    tokenize,
    word_labels,
)  # fmt: skip
from streams.training.evaluate import span_f1


def _fit(x: sp.csr_matrix, y: NDArray[np.int64], c: float) -> tuple[F32, float]:
    if len(np.unique(y)) < 2:  # tiny data with one class: a constant tagger
        return np.zeros(x.shape[1], dtype=np.float32), 4.0 if len(y) and y[0] == 1 else -4.0
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    clf.fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def _tune_fold(key: str) -> bool:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < TUNE_SHARE


def fit_tagger(
    posts: Sequence[tuple[str, str, Sequence[tuple[int, int]]]],
    *,
    c: float = 1.0,
    step: Callable[[str], None] | None = None,
) -> tuple[SpanTagger, float]:
    """Fit on (key, text, gold spans) posts, tune the decoding on a part kept apart, refit on all.

    Returns the tagger and the tuned mean char-F1 on that part.
    """
    tune = [p for p in posts if _tune_fold(p[0])]
    fit = [p for p in posts if not _tune_fold(p[0])]

    def matrix(
        part: Sequence[tuple[str, str, Sequence[tuple[int, int]]]],
    ) -> tuple[sp.csr_matrix, NDArray[np.int64]]:
        tokenized = [tokenize(text) for _, text, _ in part]
        y = [
            lab
            for (ranges, _), (_, _, gold) in zip(tokenized, part, strict=True)
            for lab in word_labels(ranges, gold)
        ]
        return FEATURES([w for _, w in tokenized]), np.asarray(y, dtype=np.int64)

    if step:
        step(f"spans: fit on {len(fit)} posts")
    x_fit, y_fit = matrix(fit)
    coef, intercept = _fit(x_fit, y_fit, c)
    tagger = SpanTagger(coef, intercept)
    best = (-1.0, tagger.threshold, tagger.floor, tagger.ratio)
    if tune:
        if step:
            step(f"spans: tune decoding on {len(tune)} posts")
        probs = tagger.word_probs([text for _, text, _ in tune])
        for thr in THRESHOLDS:
            for floor in FLOORS:
                for ratio in RATIOS:
                    f1 = float(
                        np.mean(
                            [
                                span_f1(decode(text, r, p, thr, floor, ratio), gold)
                                for (_, text, gold), (r, p) in zip(tune, probs, strict=True)
                            ]
                        )
                    )
                    if f1 > best[0]:
                        best = (f1, thr, floor, ratio)
        if step:
            step(f"spans: refit on {len(posts)} posts")
        x_all, y_all = matrix(posts)
        coef, intercept = _fit(x_all, y_all, c)
    f1, thr, floor, ratio = best
    return SpanTagger(coef, intercept, thr, floor, ratio), f1
