"""Warehouse rows of the wire records, read off the models so that each record is defined once.

A table that stores a record has one column per field (never `schema_version`): the columns, the
row the sink inserts and the record read back from a row all follow from the model, and a new
field is the model's field plus one migration (`tests/test_warehouse.py` holds these columns
against the tables' own). Values are what ClickHouse takes: enums as their value, a nested model
as its JSON ('' for none), the rest as is. A field the table keeps otherwise (media hashes as
tuples) names its own `Codec`; a column that is no field (`matched_events`, for an index) is
computed from the record and not read back.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from schemas.media import BankEntry, MatchKind, MediaVerdict
from schemas.moderation import ModerationAction, Notice
from schemas.records import DeadLetter, Verdict
from schemas.rules import ShadowRecord
from schemas.strikes import BlockChange, Strike

Row = list[Any]
M = TypeVar("M", bound=BaseModel)


def _as_is(value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True, slots=True)
class Codec:
    """How one field is stored (`encode`) and read back (`decode`)."""

    encode: Callable[[Any], Any] = _plain
    decode: Callable[[Any], Any] = _as_is


PLAIN = Codec()
NESTED = Codec(
    encode=lambda v: v.model_dump_json() if v is not None else "",
    decode=lambda v: json.loads(v) if v else None,
)


def _is_model(annotation: Any) -> bool:
    """Whether `annotation` is a model, or an optional one (stored as JSON)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_model(a) for a in get_args(annotation) if a is not type(None))
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@dataclass(frozen=True, eq=False)
class RecordRows(Generic[M]):
    """The columns of a table that stores records of `model`, a record's row, a row's record."""

    model: type[M]
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Field → column, where the column is named otherwise (a word SQL reserves)."""
    codecs: Mapping[str, Codec] = field(default_factory=dict)
    computed: Mapping[str, Callable[[M], Any]] = field(default_factory=dict)
    """Columns that are no field: derived from the record, never read back."""
    not_stored: frozenset[str] = frozenset({"schema_version"})

    _fields: tuple[tuple[str, str, Codec], ...] = field(init=False, repr=False)
    """(field, column, codec) of each stored field, in the model's order."""

    def __post_init__(self) -> None:
        stored = []
        for name, info in self.model.model_fields.items():
            if name in self.not_stored:
                continue
            default = NESTED if _is_model(info.annotation) else PLAIN
            stored.append((name, self.renamed.get(name, name), self.codecs.get(name, default)))
        object.__setattr__(self, "_fields", tuple(stored))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for _, column, _ in self._fields) + tuple(self.computed)

    def row(self, record: M) -> Row:
        """The values of `columns` for `record`."""
        values = [codec.encode(getattr(record, name)) for name, _, codec in self._fields]
        return values + [compute(record) for compute in self.computed.values()]

    def decoded(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The stored fields present in `row` (a query's row, by column), decoded, by field name;
        other columns are left out."""
        return {
            name: codec.decode(row[column]) for name, column, codec in self._fields if column in row
        }

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """`decoded`, with times as the record has them: in UTC (they are stored in UTC)."""
        doc = self.decoded(row)
        for name, value in doc.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                doc[name] = value.replace(tzinfo=UTC)
        return doc

    def record(self, row: Mapping[str, Any]) -> M:
        """The record a row was stored from."""
        return self.model.model_validate(self.values(row))


def _score(value: Any) -> float:
    """A probability read back from Float32: kept within [0, 1] whatever the rounding."""
    return min(1.0, max(0.0, float(value)))


SCORE = Codec(decode=_score)
SCORES = Codec(decode=lambda scores: {label: _score(v) for label, v in scores.items()})
SPANS = Codec(decode=lambda spans: [tuple(s) for s in spans])
HASHES = Codec(
    encode=lambda hashes: [(h.hash_type.value, h.value, h.at_s) for h in hashes],
    decode=lambda hashes: [  # named tuples arrive as dicts or tuples, depending on the client
        h if isinstance(h, dict) else {"hash_type": h[0], "value": h[1], "at_s": h[2]}
        for h in hashes
    ],
)
MATCHES = Codec(  # JSON: subscribers' matches as sent, read only by the media verdict's page
    encode=lambda matches: "[" + ",".join(m.model_dump_json() for m in matches) + "]",
    decode=lambda value: json.loads(value or "[]"),
)


def _matched_events(verdict: MediaVerdict) -> list[str]:
    """The earlier events a media verdict matched: its duplicate cluster, by index."""
    seen = {m.event_id for m in verdict.matches if m.kind == MatchKind.SEEN and m.event_id}
    return sorted(seen)


VERDICT_ROWS = RecordRows(Verdict, codecs={"toxic": SCORE, "scores": SCORES, "spans": SPANS})
ACTIONS = Codec(  # JSON: read back only by the shadow comparison's examples
    encode=lambda actions: "[" + ",".join(a.model_dump_json() for a in actions) + "]",
    decode=lambda value: json.loads(value or "[]"),
)
SHADOW_ROWS = RecordRows(ShadowRecord, codecs={"actions": ACTIONS})
MEDIA_VERDICT_ROWS = RecordRows(
    MediaVerdict,
    codecs={"hashes": HASHES, "matches": MATCHES, "scores": SCORES},
    computed={"matched_events": _matched_events},
    not_stored=frozenset({"schema_version", "kind"}),  # always `media`
)
DEAD_LETTER_ROWS = RecordRows(DeadLetter)
BANK_ENTRY_ROWS = RecordRows(BankEntry)
STRIKE_ROWS = RecordRows(Strike, renamed={"limit": "strike_limit"})
BLOCK_CHANGE_ROWS = RecordRows(BlockChange)
ACTION_ROWS = RecordRows(ModerationAction)
NOTICE_ROWS = RecordRows(Notice)
