"""Fitting the fast tier's linear models: one calibrated logistic regression per language and
label (`fit_language`), with classes balanced per source and optional NB scaling."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from streams.text.features import F32, F64, Featurizer, compute_idf
from streams.text.lang_model import LangModel


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    targets: dict[str, int | None]  # label -> 0/1, or None when the source does not say
    key: str  # stable id, used for calibration folds
    group: str = ""  # the source; classes are balanced within each source


def _balanced_weights(y: NDArray[np.int64], groups: NDArray[np.str_] | None = None) -> F64:
    """Weights giving both classes equal mass within each group (a source's label prior then
    carries no information); a group with one class keeps weight 1."""
    w = np.ones(len(y), dtype=np.float64)
    for g in [None] if groups is None else np.unique(groups):
        m = np.ones(len(y), dtype=bool) if g is None else groups == g
        pos = float(y[m].mean()) if m.any() else 0.0
        if pos in (0.0, 1.0):
            continue
        w[m] = np.where(y[m] == 1, 0.5 / pos, 0.5 / (1.0 - pos))
    return w


def _fold_of(key: str, folds: int) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") % folds


def nb_ratios(x: sp.csr_matrix, y: NDArray[np.int64], w: F64, alpha: float = 1.0) -> F64:
    """|log(p_f / q_f)| per feature: p_f (q_f) is the smoothed, weighted share of positive
    (negative) rows in which feature f occurs; large for features that tell the classes apart."""
    present = (x > 0).astype(np.float64)
    pos = np.asarray(present.T @ np.where(y == 1, w, 0.0)).ravel() + alpha
    neg = np.asarray(present.T @ np.where(y == 1, 0.0, w)).ravel() + alpha
    return np.asarray(np.abs(np.log((pos / pos.sum()) / (neg / neg.sum()))), dtype=np.float64)


def _fit_lr(
    x: sp.csr_matrix, y: NDArray[np.int64], c: float, w: F64, nb_scale: bool = False
) -> tuple[F32, float]:
    if len(np.unique(y)) < 2:  # one class only (tiny data): a constant model of that class
        return np.zeros(x.shape[1], dtype=np.float32), 4.0 if len(y) and y[0] == 1 else -4.0
    r = nb_ratios(x, y, w) if nb_scale else None
    if r is not None:
        x = sp.csr_matrix(x @ sp.diags(r.astype(np.float32)))
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    clf.fit(x, y, sample_weight=w)
    coef = clf.coef_[0] if r is None else clf.coef_[0] * r  # weights of the unscaled features
    return coef.astype(np.float32), float(clf.intercept_[0])


def _platt(z: F64, y: NDArray[np.int64], w: F64) -> tuple[float, float]:
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    clf = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    clf.fit(z.reshape(-1, 1), y, sample_weight=w)
    a, b = float(clf.coef_[0, 0]), float(clf.intercept_[0])
    if a <= 0:  # a degenerate fit: keep the raw logit
        return 1.0, 0.0
    return a, b


def _f1_threshold(z: F64, y: NDArray[np.int64]) -> float:
    """The logit threshold with the best macro-F1 of `z > t` against `y` (0 if one class)."""
    if len(np.unique(y)) < 2:
        return 0.0
    cands = np.unique(np.quantile(z, np.linspace(0.01, 0.99, 197)))
    pred = z[None, :] > cands[:, None]
    pos = y[None, :] == 1
    tp = (pred & pos).sum(axis=1)
    fp = (pred & ~pos).sum(axis=1)
    fn = (~pred & pos).sum(axis=1)
    tn = (~pred & ~pos).sum(axis=1)
    f1_pos = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / np.maximum(2 * tn + fn + fp, 1)
    return float(cands[int(np.argmax(f1_pos + f1_neg))])


_LOGIT_02 = float(np.log(0.2 / 0.8))  # the default policy's approve line, as a logit


def approve_slope(s: F64, y: NDArray[np.int64], boundary: float, recall: float) -> float:
    """The factor on calibrated logits `s` (boundary at `boundary`) that puts the score 0.2 where
    a share `recall` of the toxic rows score above it (out of fold), 0.5 staying at `boundary`.

    So the approve line keeps one meaning (it lets through at most 1 - `recall` of toxic texts)
    whatever the mix of sources a recipe trains on; 1.0 if the toxic rows do not allow it."""
    toxic = np.sort(s[y == 1])
    if not len(toxic):
        return 1.0
    low = float(np.quantile(toxic, 1.0 - recall))
    if low >= boundary:
        return 1.0
    return -_LOGIT_02 / (boundary - low)


def fit_language(  # noqa: PLR0913 - the fit's options, keyword-only with defaults
    lang: str,
    examples: Sequence[Example],
    labels: Iterable[str],
    featurizer: Featurizer,
    *,
    c: float = 4.0,
    calibration_folds: int = 3,
    by_source: bool = True,
    f1_boundary: bool = True,
    nb_scale: bool = False,
    approve_recall: float | None = None,
    step: Callable[[str], None] | None = None,
) -> LangModel:
    """Fit one logistic regression per label on the examples that carry it, then calibrate it.

    Classes are balanced within each source (`by_source`) or over all rows. With `nb_scale`,
    each feature is scaled by its naive-Bayes log-count ratio (`nb_ratios`, from the rows of
    that fit) before the fit (NB-LR, after Wang & Manning 2012); the scale is folded into the
    coefficients, so the model is applied as any other. With `f1_boundary`, the calibration is
    shifted so that 0.5 is the threshold with the best macro-F1 on the out-of-fold scores of
    the training rows (per language and label). With `approve_recall`, the slope is then set so
    that 0.2 (the default approve line) lets through that share of toxic rows (`approve_slope`).
    """
    labels = tuple(labels)
    blocks = featurizer.counts([featurizer.prepare(e.text) for e in examples])
    idf = compute_idf(blocks)
    x, _ = featurizer.weigh(blocks, idf)
    coefs, intercepts, a_s, b_s = [], [], [], []
    info: dict[str, Any] = {}
    for label in labels:
        rows = np.array([i for i, e in enumerate(examples) if e.targets.get(label) is not None])
        y = np.array([examples[i].targets[label] for i in rows], dtype=np.int64)
        xl = x[rows]
        groups = np.array([examples[i].group for i in rows]) if by_source else None
        w = _balanced_weights(y, groups)
        if step:
            step(f"{lang}/{label}: fit on {len(rows)} rows")
        coef, intercept = _fit_lr(xl, y, c, w, nb_scale)
        # Out-of-fold logits for Platt scaling.
        folds = np.array([_fold_of(examples[i].key, calibration_folds) for i in rows])
        oof = np.zeros(len(rows), dtype=np.float64)
        for k in range(calibration_folds):
            if step:
                step(f"{lang}/{label}: calibration fold {k + 1}/{calibration_folds}")
            tr, te = folds != k, folds == k
            ck, ik = _fit_lr(xl[tr], y[tr], c, w[tr], nb_scale)
            oof[te] = np.asarray(xl[te] @ ck, dtype=np.float64) + ik
        a, b = _platt(oof, y, w)
        shift = _f1_threshold(a * oof + b, y) if f1_boundary else 0.0
        b -= shift
        if approve_recall is not None:
            slope = approve_slope(a * oof + b, y, 0.0, approve_recall)
            a, b = a * slope, b * slope
        coefs.append(coef)
        intercepts.append(intercept)
        a_s.append(a)
        b_s.append(b)
        info[label] = {
            "n_train": len(rows),
            "positives": int(y.sum()),
            "C": c,
            "nb_scale": nb_scale,
            "boundary_logit_shift": round(shift, 4),
        }
    return LangModel(
        lang=lang,
        labels=labels,
        idf=idf,
        coef=np.vstack(coefs).astype(np.float32),
        intercept=np.asarray(intercepts, dtype=np.float32),
        calib_a=np.asarray(a_s, dtype=np.float32),
        calib_b=np.asarray(b_s, dtype=np.float32),
        info=info,
    )
