"""Keyset cursors: `<key>~<tie>`, the position of the last row served, in plain sight.

`key` is the sort key as a number (a time as milliseconds since 1970), `tie` the last row's id
(event id, author, dead letter id) as it is. Every value `PATTERN` matches is a position, read
under the request's own sort and order as "after this key", so no cursor is refused: one written
by hand, or taken from another sort, pages on from where it points. A cursor only adds a
condition to a query that is already the caller's tenant's (`tenant = …` stays in the WHERE), so
no value of it reaches another tenant's rows; and it tells the caller nothing the page it came
with did not show.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field

from api.read.where import within_warehouse_range
from infra.errors import Rejected

NUMBER = r"-?[0-9]{1,20}(\.[0-9]{1,20})?(e[-+]?[0-9]{1,2})?"
"""The key: digits, an optional fraction and exponent (what `repr` of a float writes, never
`inf` or `nan`; the exponent's two digits keep every value finite)."""
MAX_TIE = 300
PATTERN = rf"^{NUMBER}~[\s\S]{{0,{MAX_TIE}}}$"
DESCRIPTION = (
    "`next` of the previous page. A cursor is `<key>~<id>`: the sort key of the last row "
    "served (times in milliseconds since 1970) and its id; the page starts after it, under "
    "this request's sort and order."
)
EXAMPLE = "1796117400000~chat-7f3a"

Cursor = Annotated[
    str | None,
    Field(default=None, pattern=PATTERN, description=DESCRIPTION, examples=[EXAMPLE]),
]
"""A cursor as a query model's field (a route's `Query` takes `PATTERN` and `DESCRIPTION`)."""

TIME = "DateTime64(3, 'UTC')"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPLIT = re.compile(rf"({NUMBER})~([\s\S]{{0,{MAX_TIE}}})")


def encode(key: float | datetime, tie: str | int) -> str:
    if isinstance(key, datetime):
        moment = key if key.tzinfo else key.replace(tzinfo=UTC)
        return f"{(moment - _EPOCH) // timedelta(milliseconds=1)}~{tie}"
    return f"{key!r}~{tie}"


def decode(token: str) -> tuple[float, str]:
    """(key, tie). The routes refuse what `PATTERN` does not match; this refuses it for callers
    that did not come through them."""
    found = _SPLIT.fullmatch(token)
    if found is None:
        raise Rejected("invalid_cursor", f"a cursor is `<number>~<id>`, e.g. {EXAMPLE}")
    return float(found.group(1)), found.group(4)


def moment(key: float) -> datetime:
    """The time a key names, within the warehouse's range (1900-2299, where every row is)."""
    bounded = min(max(key, -2_300_000_000_000.0), 10_500_000_000_000.0)
    return within_warehouse_range(_EPOCH + timedelta(milliseconds=round(bounded)))


def after(column: str, kind: str, tie: str, order: str) -> str:
    """The keyset condition "after (cursor value, cursor tie)" for `ORDER BY column, tie`;
    bind `c_value` (from `value`) and `c_tie`.

    Written as `column <= v AND (column < v OR tie < t)` rather than a tuple comparison, so the
    primary key still narrows the read when `column` leads it. A numeric column is compared with
    a Float64, which holds every key a cursor can carry.
    """
    kind = TIME if kind.startswith("DateTime") else "Float64"
    lt, le = ("<", "<=") if order == "desc" else (">", ">=")
    return (
        f"{column} {le} {{c_value:{kind}}} AND "
        f"({column} {lt} {{c_value:{kind}}} OR {tie} {lt} {{c_tie:String}})"
    )


def value(key: float, kind: str) -> float | datetime:
    """`c_value` for a column of `kind`."""
    return moment(key) if kind.startswith("DateTime") else key
