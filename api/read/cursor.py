"""Opaque keyset cursors: the sort key of the last row served, tied to the sort that made it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from infra.errors import Rejected


def encode(sort: str, order: str, key: list[Any]) -> str:
    raw = json.dumps({"s": sort, "o": order, "k": key}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, sort: str, order: str, size: int) -> list[Any]:
    """The key inside `token`; `Rejected` if it is malformed or was made for another sort."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = doc["k"]
        valid = doc["s"] == sort and doc["o"] == order and isinstance(key, list)
    except (ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise Rejected("invalid_cursor", "the cursor is not one this API issued") from exc
    if not valid or len(key) != size:
        raise Rejected("invalid_cursor", "the cursor belongs to another sort or order")
    return list(key)


def after(column: str, kind: str, tie: str, order: str) -> str:
    """The keyset condition "after (cursor value, cursor tie)" for `ORDER BY column, tie`.

    Written as `column <= v AND (column < v OR tie < t)` rather than a tuple comparison, so the
    primary key still narrows the read when `column` leads it.
    """
    lt, le = ("<", "<=") if order == "desc" else (">", ">=")
    return (
        f"{column} {le} {{c_value:{kind}}} AND "
        f"({column} {lt} {{c_value:{kind}}} OR {tie} {lt} {{c_tie:String}})"
    )
