"""The rollup refresher's pace: a second between rounds, longer once rounds are expensive."""

from __future__ import annotations

import pytest

from api.rollups import MAX_SHARE, pause_after


def test_cheap_rounds_keep_the_interval() -> None:
    assert pause_after(0.004, interval=1.0) == 1.0  # nothing dirty: one narrow count
    assert pause_after(0.2, interval=1.0) == pytest.approx(3.8)  # as docs/api.md says


@pytest.mark.parametrize("spent", [0.1, 0.2, 0.5, 2.0])
def test_expensive_rounds_take_at_most_their_share(spent: float) -> None:
    wait = pause_after(spent, interval=1.0)
    assert wait >= 1.0
    assert spent / (spent + wait) <= MAX_SHARE + 1e-9
