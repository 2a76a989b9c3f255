"""Positions in the live feed: partition offsets, `now` or a time, parsed and written back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.feed import position


def test_positions_parse() -> None:
    assert position.parse("0:5,3:9") == {0: 5, 3: 9}
    assert position.dump({3: 9, 0: 5}) == "0:5,3:9"
    assert position.parse("now") == "now"
    assert position.parse("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    for bad in ("0:x", "2026-01-01T00:00:00", "soon"):
        with pytest.raises(ValueError):  # noqa: PT011 - several messages
            position.parse(bad)
