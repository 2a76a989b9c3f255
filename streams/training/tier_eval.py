"""Calibrating the transformer tier and measuring every tier and the cascade on held-out rows.

Needs no torch: it runs exported models with onnxruntime. Used by `modstream train-transformer`
after export, and usable on any exported model directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from streams.text.classifier import Classifier
from streams.text.onnx_model import OnnxTextClassifier
from streams.training.dataset import Row
from streams.training.evaluate import binary_metrics

__all__ = [
    "BANDS",
    "TARGET_TEXTS_PER_SECOND",
    "balanced_weights",
    "cascade_scores",
    "fit_platt",
    "score",
    "throughput",
    "tier_table",
]

# Candidate uncertainty bands of the fast tier's toxic probability, narrow to wide.
BANDS: tuple[tuple[float, float], ...] = (
    (0.4, 0.6),
    (0.3, 0.7),
    (0.2, 0.8),
    (0.15, 0.85),
    (0.1, 0.9),
    (0.05, 0.95),
    (0.0, 1.0),
)
# A band is feasible when the cascade, measured at it, judges at least this many texts a second.
TARGET_TEXTS_PER_SECOND = 500.0

F64 = NDArray[np.float64]


def balanced_weights(y: Sequence[int], groups: Sequence[str]) -> F64:
    """Weights that give both classes equal mass within each group (source)."""
    w = np.ones(len(y), dtype=np.float64)
    ya, ga = np.asarray(y), np.asarray(groups)
    for g in set(groups):
        m = ga == g
        pos = ya[m].mean()
        if 0.0 < pos < 1.0:
            w[m & (ya == 1)] = 0.5 / pos
            w[m & (ya == 0)] = 0.5 / (1.0 - pos)
    return np.asarray(w / w.mean(), dtype=np.float64)


def fit_platt(z: F64, y: Sequence[int], weights: F64) -> tuple[float, float]:
    """p = sigmoid(a·z + b), fitted with the given sample weights; identity when degenerate."""
    clf = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    clf.fit(z.reshape(-1, 1), np.asarray(y), sample_weight=weights)
    a, b = float(clf.coef_[0, 0]), float(clf.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


def score(
    clf: Classifier,
    rows: Sequence[Row],
    batch: int = 256,
    step: Callable[[int], None] | None = None,
) -> F64:
    """Toxic probabilities of the rows (with their given languages)."""
    out: list[float] = []
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        out += [s.toxic for s in clf.classify([r.text for r in part], [r.lang for r in part])]
        if step:
            step(len(part))
    return np.asarray(out, dtype=np.float64)


def cascade_scores(
    fast: F64, transformer: F64, band: tuple[float, float], blend: float = 1.0
) -> tuple[F64, NDArray[np.bool_]]:
    """What the cascade answers given both tiers' scores; also which rows were escalated."""
    low, high = band
    esc = (fast >= low) & (fast <= high)
    mixed = blend * transformer + (1.0 - blend) * fast
    return np.where(esc, mixed, fast), esc


def tier_table(
    rows: Sequence[Row], scores: dict[str, F64], threshold: float = 0.5
) -> dict[str, dict[str, dict[str, float]]]:
    """{tier: {scope: metrics}} for scope = each data set and "all"."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    datasets = sorted({r.dataset for r in rows})
    y = np.array([r.toxic for r in rows])
    ds = np.array([r.dataset for r in rows])
    for tier, p in scores.items():
        out[tier] = {"all": binary_metrics(y, p, threshold)}
        for d in datasets:
            m = ds == d
            out[tier][d] = binary_metrics(y[m], p[m], threshold)
    return out


def throughput(clf: Classifier, texts: Sequence[str], batch: int = 256) -> float:
    """Texts per second over `texts` (after one warm-up batch)."""
    clf.classify(list(texts[:batch]))
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        clf.classify(list(texts[i : i + batch]))
    return len(texts) / (time.perf_counter() - t0)


def logits_of(model: OnnxTextClassifier, texts: Sequence[str], batch: int = 256) -> F64:
    parts = [model.logits(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.vstack(parts) if parts else np.zeros((0, len(model.labels_out)))


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        tier: {scope: {k: round(v, 4) for k, v in m.items()} for scope, m in per.items()}
        for tier, per in metrics.items()
    }
