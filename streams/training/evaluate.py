"""Held-out metrics: ROC-AUC, macro-F1 at a threshold, and SemEval-2021 span char-F1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import f1_score, roc_auc_score

__all__ = ["binary_metrics", "span_f1", "spans_char_f1"]


def binary_metrics(
    y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5
) -> dict[str, float]:
    """n, positive rate, ROC-AUC and macro-F1 at `threshold` (AUC/F1 only when both classes occur).

    With a single class, `recall_at` (share predicted as that class) is reported instead.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_prob, dtype=np.float64)
    pred = (p > threshold).astype(np.int64)
    out: dict[str, float] = {"n": float(len(y)), "pos_rate": float(y.mean()) if len(y) else 0.0}
    if len(y) == 0:
        return out
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["macro_f1"] = float(f1_score(y, pred, average="macro"))
    else:
        out["accuracy"] = float((pred == y).mean())
    return out


def _chars(spans: Sequence[tuple[int, int]]) -> set[int]:
    return {i for s, e in spans for i in range(s, e)}


def span_f1(pred: Sequence[tuple[int, int]], gold: Sequence[tuple[int, int]]) -> float:
    """Character F1 of one post; empty prediction and empty gold score 1, one of them empty 0."""
    p, g = _chars(pred), _chars(gold)
    if not g:
        return 1.0 if not p else 0.0
    if not p:
        return 0.0
    tp = len(p & g)
    return 2 * tp / (len(p) + len(g))


def spans_char_f1(
    preds: Sequence[Sequence[tuple[int, int]]], golds: Sequence[Sequence[tuple[int, int]]]
) -> float:
    """SemEval-2021 Task 5 metric: mean per-post character F1."""
    if len(preds) != len(golds):
        raise ValueError("preds and golds differ in length")
    if not golds:
        return float("nan")
    return float(np.mean([span_f1(p, g) for p, g in zip(preds, golds, strict=True)]))
