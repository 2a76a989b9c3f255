"""Conditions and their bound parameters, built together so a value never enters the SQL text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> Where:
        """Add `clause` (placeholders like `{name:Type}`) with the values of its placeholders."""
        self.clauses.append(clause)
        self.params.update(params)
        return self

    def add_if(self, value: Any, clause: str, name: str) -> Where:
        """Add `clause` binding `value` to `name`, unless `value` is None or empty."""
        if value is None or value in ([], ""):
            return self
        return self.add(clause, **{name: value})

    @property
    def sql(self) -> str:
        return " AND ".join(f"({c})" for c in self.clauses) or "1"


_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2299, 12, 31, tzinfo=UTC)


# RFC 3339's date-time, as the OpenAPI document says (`format: date-time`): pydantic alone would
# also take a number (`until=0.5`, seconds since 1970) or a date without a time.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("an RFC 3339 date-time with its offset, e.g. 2026-12-01T00:00:00Z")
    return value


def within_warehouse_range(value: datetime) -> datetime:
    """The warehouse's DateTime64 spans 1900-2299, and nothing is stored outside it: a bound
    beyond it selects what the range's end does."""
    return min(max(value, _EARLIEST), _LATEST)


# A time in a request body or query, as the document states it (`format: date-time`).
DateTimeString = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]

# A time filter, as the document states it: any RFC 3339 date-time (found by schemathesis:
# `judged_to=0203-01-17T00:58:47Z` made a query fail, and `until=0.5` was taken for 1970).
WarehouseTime = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(within_warehouse_range)
]


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


INTEGRAL = BeforeValidator(_integral)
"""For `Annotated[int, Strict(), Field(ge=…), INTEGRAL]`: an integer as JSON Schema has one
(`type: integer`), `3600` or `3600.0` (found by schemathesis), never `false` or `"3600"`, which
a lax `int` would take. Bounds go before it, or the document shows them as unknown keywords."""
