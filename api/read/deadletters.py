"""Dead letters (`GET /v1/deadletters`, `modstream deadletters list`): the `dead_letters` table,
one tenant's (the API) or, for an operator at the command line, every tenant's and those that
have no tenant.

A dead letter's id is its source record's position, `topic:partition:offset`: the table's key
(a ReplacingMergeTree, read with FINAL), stable across the sink's replays. Its replays are rows
of `dead_letter_replays` (migration 0009).

What the stored `raw` is, as `raw_state`:
- `complete`: the record's bytes, UTF-8 (the worker keeps up to 16 KiB);
- `truncated`: only its first 16 KiB (`raw_size` says how long it was);
- `hashed`: the tenant is in privacy mode: `raw` is `sha256:<hex>` of what the worker kept, not
  the record. A record whose tenant cannot be told is treated as private by the sink, so a dead
  letter with no tenant is always `hashed`. For a tenant that switched privacy mode on after the
  dead letter was stored, the table still holds the record: it is shown as its digest here, and
  can still be replayed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from api.read import cursor
from api.read.cursor import Cursor
from api.read.where import WarehouseTime, Where
from infra.accounts.privacy import sha256_hex
from infra.warehouse import Warehouse
from schemas.records import DeadLetter, DeadLetterReason
from schemas.rows import DEAD_LETTER_ROWS

IsPrivate = Callable[[str | None], bool]

ID_PATTERN = r"^([A-Za-z0-9._\-]{1,249}):(\d{1,9}):(\d{1,18})$"
"""Digits few enough that any partition and offset it matches fits Kafka's int32 and int64,
so the pattern is the whole rule the schema states."""
_ID = re.compile(ID_PATTERN)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX_PARTITION = 2**31 - 1
_MAX_OFFSET = 2**63 - 1
ID_DESCRIPTION = (
    "`topic:partition:offset` of the record that could not be judged (it names the source "
    "record, so it is stable)."
)
TIME = "DateTime64(3, 'UTC')"


def _valid_id(value: str) -> str:
    parse_id(value)
    return value


def parse_id(value: str) -> tuple[str, int, int]:
    """(topic, partition, offset) of a dead letter id; ValueError if it is not one."""
    match = _ID.match(value)
    if not match:
        raise ValueError("a dead letter id is `topic:partition:offset`, e.g. events.text:2:1534")
    partition, offset = int(match[2]), int(match[3])
    if partition > _MAX_PARTITION or offset > _MAX_OFFSET:
        raise ValueError("partition or offset out of range")
    return match[1], partition, offset


def make_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


DeadLetterId = Annotated[
    str,
    Field(
        min_length=5,
        max_length=284,
        pattern=ID_PATTERN,
        description=ID_DESCRIPTION,
        examples=["events.text:2:1534"],
    ),
    AfterValidator(_valid_id),
]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose dead letters a query sees. The API only ever makes `Scope.of(tenant)`; the operator's
    command line may see every tenant's (`tenant=None`) or only those with no tenant."""

    tenant: str | None
    operator: bool = False
    unowned: bool = False

    @classmethod
    def of(cls, tenant: str) -> Scope:
        return cls(tenant)

    @classmethod
    def operator_view(cls, tenant: str | None = None, *, unowned: bool = False) -> Scope:
        if tenant and unowned:
            raise ValueError("a tenant, or the dead letters with no tenant: not both")
        return cls(tenant, operator=True, unowned=unowned)

    def where(self) -> Where:
        if not self.operator:
            if not self.tenant:
                raise ValueError("a tenant's scope needs the tenant")
            return Where().add("tenant = {tenant:String}", tenant=self.tenant)
        if self.unowned:
            return Where().add("tenant IS NULL")
        if self.tenant:
            return Where().add("tenant = {tenant:String}", tenant=self.tenant)
        return Where()


class DeadLetterFilter(BaseModel):
    """Which dead letters (all optional; they combine with AND)."""

    model_config = ConfigDict(extra="forbid")

    reason: list[DeadLetterReason] = Field(default_factory=list, description="Any of these.")
    topic: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._\-]{1,249}$",
        description="The source topic, e.g. `events.text`.",
        examples=["events.text"],
    )
    event_id: str | None = Field(default=None, min_length=1, max_length=256)
    since: WarehouseTime | None = Field(default=None, description="Failed at or after.")
    until: WarehouseTime | None = Field(default=None, description="Failed before.")

    def where(self, scope: Scope) -> Where:
        where = scope.where()
        where.add_if([r.value for r in self.reason], "reason IN {reasons:Array(String)}", "reasons")
        where.add_if(self.topic, "topic = {topic:String}", "topic")
        where.add_if(self.event_id, "event_id = {event_id:String}", "event_id")
        where.add_if(self.since, f"failed_at >= {{since:{TIME}}}", "since")
        where.add_if(self.until, f"failed_at < {{until:{TIME}}}", "until")
        return where


class DeadLetterQuery(DeadLetterFilter):
    """Filters and page of `GET /v1/deadletters`: newest first by default."""

    order: Literal["desc", "asc"] = "desc"
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: Cursor = None


class Replay(BaseModel):
    replayed_at: AwareDatetime
    actor: str = Field(description="`user:EMAIL`, `token:ID` or `cli`.")
    forced: bool
    to: str = Field(
        description="Where the record was published again, `topic:partition:offset`: if it "
        "fails again, that is the id of its new dead letter."
    )


class DeadLetterItem(BaseModel):
    id: str = Field(description=ID_DESCRIPTION)
    topic: str = Field(description="The source topic.")
    partition: int
    offset: int
    reason: DeadLetterReason
    detail: str = Field(description="Why (for a tenant in privacy mode, the reason only).")
    tenant: str | None = Field(description="The tenant, from the record (or its key), if told.")
    event_id: str | None = Field(description="The event's id, if the record says.")
    failed_at: AwareDatetime
    raw_size: int = Field(description="Size of the source record in bytes.")
    raw: str = Field(
        description="The record as kept (see `raw_state`); `sha256:<hex>` when `hashed`."
    )
    raw_state: Literal["complete", "truncated", "hashed"] = Field(
        description="`complete`: `raw` is the record; `truncated`: its first 16 KiB; `hashed`: "
        "the tenant is in privacy mode, and `raw` is the SHA-256 of what the worker kept (the "
        "record, cut to 16 KiB), not the record."
    )
    replays: list[Replay] = Field(
        default_factory=list, description="Each time it was replayed, oldest first."
    )


class DeadLetterPage(BaseModel):
    data: list[DeadLetterItem]
    count: int = Field(description="Dead letters in `data`.")
    next: str | None = Field(description="Cursor of the next page; null on the last page.")
    privacy_mode: bool = Field(
        description="Your tenant is in privacy mode: `raw` is a digest, never the record."
    )


class Stored(DeadLetter):
    """One row of `dead_letters`, as stored (never shown as is: see `item`)."""

    @property
    def id(self) -> str:
        return make_id(self.topic, self.partition, self.offset)

    @property
    def hashed(self) -> bool:
        """Only the digest was stored (privacy mode at the time)."""
        return bool(_DIGEST.match(self.raw)) and len(self.raw) != self.raw_size

    @property
    def stored_bytes(self) -> int:
        return len(self.raw.encode("utf-8"))

    def item(self, private: bool, replays: list[Replay]) -> DeadLetterItem:
        """As a reader may see it: the digest instead of the record for a private tenant."""
        raw, detail = self.raw, self.detail
        state: Literal["complete", "truncated", "hashed"]
        if self.hashed:
            state = "hashed"
        elif private:  # stored before privacy mode was switched on: shown as the sink would keep it
            state, raw, detail = "hashed", f"sha256:{sha256_hex(self.raw)}", self.reason.value
        else:
            state = "truncated" if self.stored_bytes < self.raw_size else "complete"
        return DeadLetterItem(
            id=self.id, topic=self.topic, partition=self.partition, offset=self.offset,
            reason=self.reason, detail=detail, tenant=self.tenant, event_id=self.event_id,
            failed_at=self.failed_at, raw_size=self.raw_size, raw=raw, raw_state=state,
            replays=replays,
        )  # fmt: skip


_COLUMNS = ", ".join(DEAD_LETTER_ROWS.columns)
_ID_EXPR = "concat(topic, ':', toString(partition), ':', toString(offset))"
EVENT_TOPICS = ("events.text", "events.media", "events.activity")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stored(row: dict[str, Any]) -> Stored:
    return Stored.model_validate(DEAD_LETTER_ROWS.values(row))


def page(
    warehouse: Warehouse, scope: Scope, query: DeadLetterQuery, private: IsPrivate
) -> DeadLetterPage:
    where = query.where(scope)
    if query.cursor:
        key, tie = cursor.decode(query.cursor)
        where.add(
            cursor.after("failed_at", TIME, "id", query.order), c_value=cursor.moment(key),
            c_tie=tie,
        )  # fmt: skip
    direction = "DESC" if query.order == "desc" else "ASC"
    rows = warehouse.rows(
        f"SELECT {_COLUMNS}, {_ID_EXPR} AS id FROM dead_letters FINAL "  # noqa: S608 - constants
        f"WHERE {where.sql} ORDER BY failed_at {direction}, id {direction} LIMIT {{limit:UInt32}}",
        where.params | {"limit": query.limit + 1},
    )
    more = len(rows) > query.limit
    letters = [_stored(r) for r in rows[: query.limit]]
    next_cursor = None
    if more:
        last = letters[-1]
        next_cursor = cursor.encode(last.failed_at, last.id)
    history = replays(warehouse, letters)
    data = [d.item(private(d.tenant), history.get(d.id, [])) for d in letters]
    return DeadLetterPage(
        data=data,
        count=len(data),
        next=next_cursor,
        privacy_mode=bool(scope.tenant) and not scope.operator and private(scope.tenant),
    )


def find(warehouse: Warehouse, scope: Scope, ids: list[str]) -> dict[str, Stored]:
    """The dead letters of `ids` within `scope`, by id (ids not found are absent)."""
    if not ids:
        return {}
    where = scope.where()
    where.add(f"{_ID_EXPR} IN {{ids:Array(String)}}", ids=sorted(set(ids)))
    rows = warehouse.rows(
        f"SELECT {_COLUMNS} FROM dead_letters FINAL WHERE {where.sql}",  # noqa: S608 - see Where
        where.params,
    )
    found = [_stored(r) for r in rows]
    return {d.id: d for d in found}


def get(
    warehouse: Warehouse, scope: Scope, dead_letter_id: str, private: IsPrivate
) -> DeadLetterItem | None:
    letter = find(warehouse, scope, [dead_letter_id]).get(dead_letter_id)
    if letter is None:
        return None
    return letter.item(private(letter.tenant), replays(warehouse, [letter]).get(letter.id, []))


def matching(
    warehouse: Warehouse, scope: Scope, where_filter: DeadLetterFilter, *, limit: int, force: bool
) -> tuple[list[Stored], bool, int]:
    """For a replay by filter: up to `limit` matching dead letters whose record is stored whole
    and came from an event topic, oldest first, not replayed yet (unless `force`); whether more
    match; and how many match but keep only a digest or a prefix of the record."""
    where = where_filter.where(scope)
    where.add("topic IN {event_topics:Array(String)}", event_topics=list(EVENT_TOPICS))
    incomplete = warehouse.rows(
        "SELECT count() AS n FROM dead_letters FINAL "  # noqa: S608 - see Where
        f"WHERE {where.sql} AND length(raw) != raw_size",
        where.params,
    )[0]["n"]
    where.add("length(raw) = raw_size")  # bytes: the record, whole
    if not force:
        where.add(f"{_ID_EXPR} NOT IN (SELECT {_ID_EXPR} FROM dead_letter_replays)")  # noqa: S608
    rows = warehouse.rows(
        f"SELECT {_COLUMNS}, {_ID_EXPR} AS id FROM dead_letters FINAL "  # noqa: S608 - see Where
        f"WHERE {where.sql} ORDER BY failed_at, id LIMIT {{limit:UInt32}}",
        where.params | {"limit": limit + 1},
    )
    return [_stored(r) for r in rows[:limit]], len(rows) > limit, int(incomplete)


def replays(warehouse: Warehouse, letters: list[Stored]) -> dict[str, list[Replay]]:
    """Each dead letter's replays, oldest first."""
    if not letters:
        return {}
    rows = warehouse.rows(
        f"SELECT {_ID_EXPR} AS id, replayed_at, actor, forced, to_topic, to_partition, "  # noqa: S608
        "to_offset FROM dead_letter_replays FINAL WHERE id IN {ids:Array(String)} "
        "ORDER BY replayed_at",
        {"ids": sorted({d.id for d in letters})},
    )
    out: dict[str, list[Replay]] = {}
    for r in rows:
        out.setdefault(r["id"], []).append(
            Replay(
                replayed_at=_utc(r["replayed_at"]),
                actor=r["actor"],
                forced=bool(r["forced"]),
                to=make_id(r["to_topic"], int(r["to_partition"]), int(r["to_offset"])),
            )
        )
    return out
