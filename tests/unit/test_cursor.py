"""Keyset cursors (api/read/cursor.py): every value the pattern admits is a position."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from api.read import cursor
from api.review.items import CURSOR_PATTERN, decode_cursor
from infra.errors import Rejected


def test_a_time_key_round_trips_in_milliseconds() -> None:
    moment = datetime(2026, 12, 1, 9, 30, 0, 123_000, tzinfo=UTC)
    token = cursor.encode(moment, "post-1")
    assert token == "1796117400123~post-1"
    key, tie = cursor.decode(token)
    assert (cursor.moment(key), tie) == (moment, "post-1")


def test_a_naive_time_is_utc() -> None:
    assert cursor.encode(datetime(1970, 1, 1, 0, 0, 1), "a") == "1000~a"


@pytest.mark.parametrize("key", [0.0, 0.30000001192092896, 12.0, 1e-05, 3.5e20, -7.25])
def test_a_number_key_round_trips_exactly(key: float) -> None:
    token = cursor.encode(key, "author~with~tildes\nand a line")
    assert re.fullmatch(cursor.PATTERN.strip("^$"), token)
    assert cursor.decode(token) == (key, "author~with~tildes\nand a line")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (-9e99, datetime(1900, 1, 1, tzinfo=UTC)),
        (9e99, datetime(2299, 12, 31, tzinfo=UTC)),
        (0.4, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_any_time_key_is_a_time_the_warehouse_holds(key: float, expected: datetime) -> None:
    assert cursor.moment(key) == expected


def test_a_value_is_bound_by_the_column_kind() -> None:
    assert cursor.value(2.5, "UInt64") == 2.5
    assert cursor.value(1000.0, "DateTime64(3, 'UTC')") == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert "{c_value:Float64}" in cursor.after("items", "UInt64", "author", "desc")
    assert "{c_value:DateTime64(3, 'UTC')}" in cursor.after(
        "t", "DateTime64(3, 'UTC')", "id", "asc"
    )


@pytest.mark.parametrize("token", ["", "garbage", "1.5", "~x", "inf~x", "nan~x", "1e999~x"])
def test_what_is_not_a_position_is_refused(token: str) -> None:
    with pytest.raises(Rejected) as refused:
        cursor.decode(token)
    assert refused.value.code == "invalid_cursor"


def test_a_review_queue_cursor_is_rank_and_item_id() -> None:
    assert re.fullmatch(CURSOR_PATTERN.strip("^$"), "0.25~17")
    assert decode_cursor("0.25~17") == (0.25, 17)
    assert not re.fullmatch(CURSOR_PATTERN.strip("^$"), "0.25~x")
