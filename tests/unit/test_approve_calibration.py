"""The calibration's slope keeps the approve line (0.2) at a fixed share of toxic rows."""

from __future__ import annotations

import numpy as np

from streams.training.linear_fit import approve_slope


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def test_a_tenth_of_toxic_rows_score_at_or_below_the_approve_line() -> None:
    rng = np.random.default_rng(3)
    s = np.concatenate([rng.normal(1.5, 2.5, 900), rng.normal(-2.0, 1.5, 1100)])
    y = np.array([1] * 900 + [0] * 1100, dtype=np.int64)
    k = approve_slope(s, y, 0.0, 0.9)
    scores = 1.0 / (1.0 + np.exp(-k * s))
    assert np.isclose((scores[y == 1] <= 0.2).mean(), 0.1, atol=0.005)
    assert _sigmoid(k * 0.0) == 0.5  # the boundary stays at 0.5


def test_the_slope_stays_when_toxic_rows_do_not_allow_it() -> None:
    y = np.array([0, 0, 1], dtype=np.int64)
    assert approve_slope(np.array([-1.0, -2.0, 3.0]), np.zeros(3, dtype=np.int64), 0.0, 0.9) == 1.0
    assert approve_slope(np.array([-1.0, -2.0, 3.0]), y, 0.0, 0.9) == 1.0  # all above 0.5
