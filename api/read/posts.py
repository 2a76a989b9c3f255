"""Judged items (`GET /v1/posts`): verdicts filtered, sorted and paged by keyset cursor.

Reads `verdicts FINAL` (ORDER BY tenant, occurred_at, event_id), or its copy ordered by author when
one author is asked for: a page sorted by item time walks the primary key and stops after `limit`
rows, so it costs about the same at 10M rows as at 10k. Other sorts read every match.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.queries import VERDICT_COLUMNS, verdict_from_row
from api.read import cursor
from api.read.cursor import Cursor
from api.read.moderation import Moderated, effects
from api.read.where import WarehouseTime, Where
from infra.warehouse import Warehouse
from schemas.events import Kind
from schemas.records import Decision, Verdict


class PostSort(StrEnum):
    OCCURRED_AT = "occurred_at"
    JUDGED_AT = "judged_at"
    TOXIC = "toxic"


_SORT_TYPES = {
    PostSort.OCCURRED_AT: "DateTime64(3, 'UTC')",
    PostSort.JUDGED_AT: "DateTime64(3, 'UTC')",
    PostSort.TOXIC: "Float32",
}


class PostQuery(BaseModel):
    """Filters, sort and page of `GET /v1/posts` (all optional; filters combine with AND)."""

    model_config = ConfigDict(extra="forbid")

    decision: list[Decision] = Field(default_factory=list, description="Any of these decisions.")
    label: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$", description="Items carrying this label"
    )
    min_score: float = Field(
        default=0.5, ge=0.0, le=1.0, description="A label counts from this score on."
    )
    author: str | None = Field(default=None, min_length=1, max_length=256)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    source: str | None = Field(default=None, min_length=1, max_length=64)
    kind: Kind | None = None
    occurred_from: WarehouseTime | None = Field(default=None, description="Item time, inclusive.")
    occurred_to: WarehouseTime | None = Field(default=None, description="Item time, exclusive.")
    judged_from: WarehouseTime | None = Field(default=None, description="Judged time, inclusive.")
    judged_to: WarehouseTime | None = Field(default=None, description="Judged time, exclusive.")
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Text contains (any case)."
    )
    sort: PostSort = Field(
        default=PostSort.OCCURRED_AT, description="`occurred_at` pages fastest (the primary key)."
    )
    order: Literal["desc", "asc"] = "desc"
    limit: int = Field(default=50, ge=1, le=1000, description="Page size (JSON only).")
    cursor: Cursor = None
    format: Literal["json", "csv", "ndjson"] = Field(
        default="json", description="`csv` and `ndjson` stream every match (from `cursor` on)."
    )
    total: bool = Field(default=False, description="Also count all matches (slower).")


class JudgedItem(Verdict, Moderated):
    text: str | None = Field(default=None, description="The judged text, from the event.")


class Page(BaseModel):
    data: list[JudgedItem]
    count: int = Field(description="Items in `data`.")
    next: str | None = Field(description="Cursor of the next page; null on the last page.")
    total: int | None = Field(default=None, description="All matches, when `total=true`.")


def _where(tenant: str, query: PostQuery, private: bool) -> Where:
    where = Where().add("tenant = {tenant:String}", tenant=tenant)
    if not private:  # chat messages are private: only with the `private` scope
        where.add("kind != 'chat_message'")
    where.add_if(
        [d.value for d in query.decision], "decision IN {decisions:Array(String)}", "decisions"
    )
    if query.label:
        where.add(
            "scores[{label:String}] >= {min_score:Float32}",
            label=query.label,
            min_score=query.min_score,
        )
    where.add_if(query.author, "author = {author:String}", "author")
    where.add_if(query.lang, "lang = {lang:String}", "lang")
    where.add_if(query.source, "source = {source:String}", "source")
    where.add_if(query.kind and query.kind.value, "kind = {kind:String}", "kind")
    t = "DateTime64(3, 'UTC')"
    where.add_if(query.occurred_from, f"occurred_at >= {{occurred_from:{t}}}", "occurred_from")
    where.add_if(query.occurred_to, f"occurred_at < {{occurred_to:{t}}}", "occurred_to")
    where.add_if(query.judged_from, f"judged_at >= {{judged_from:{t}}}", "judged_from")
    where.add_if(query.judged_to, f"judged_at < {{judged_to:{t}}}", "judged_to")
    if query.q:
        where.add(
            "event_id IN (SELECT event_id FROM events WHERE tenant = {tenant:String} "
            "AND kind != 'activity' AND positionCaseInsensitiveUTF8(text, {q:String}) > 0)",
            q=query.q,
        )
    return where


def _table(query: PostQuery) -> str:
    """One author's items are one key range of the copy ordered by author."""
    return "verdicts_by_author" if query.author else "verdicts"


def _texts(
    warehouse: Warehouse, tenant: str, query: PostQuery, rows: list[dict[str, Any]]
) -> dict[str, str]:
    """The texts of a page's items, by primary key points: of `events` (an event shares its
    verdict's `occurred_at`, and a page by time is a narrow range of it), or of `texts_by_author`
    for one author's page (one key range, where `events` would be a point per item)."""
    if not rows:
        return {}
    table, where = (
        "events",
        (
            "tenant = {tenant:String} AND occurred_at IN {times:Array(DateTime64(3, 'UTC'))} "
            "AND event_id IN {ids:Array(String)}"
        ),
    )
    if query.author:
        table, where = "texts_by_author", f"{where} AND author = {{author:String}}"
    found = warehouse.rows(
        f"SELECT event_id, text FROM {table} FINAL WHERE {where}",  # noqa: S608 - constants
        {
            "tenant": tenant,
            "author": query.author,
            "times": sorted({r["occurred_at"] for r in rows}),
            "ids": [r["event_id"] for r in rows],
        },
    )
    return {r["event_id"]: r["text"] for r in found}


def _cursor_value(row: dict[str, Any], sort: PostSort) -> float | datetime:
    value = row[sort.value]
    return value if isinstance(value, datetime) else float(value)


def page(
    warehouse: Warehouse,
    tenant: str,
    query: PostQuery,
    limit: int | None = None,
    *,
    private: bool = False,
) -> Page:
    """A page of judged items; chat messages only if `private` (the caller's scope)."""
    size = limit or query.limit
    where = _where(tenant, query, private)
    if query.cursor:
        key, tie = cursor.decode(query.cursor)
        kind = _SORT_TYPES[query.sort]
        where.add(
            cursor.after(query.sort.value, kind, "event_id", query.order),
            c_value=cursor.value(key, kind),
            c_tie=tie,
        )
    direction = "DESC" if query.order == "desc" else "ASC"
    rows = warehouse.rows(
        f"SELECT {VERDICT_COLUMNS} FROM {_table(query)} FINAL WHERE {where.sql} "  # noqa: S608
        f"ORDER BY {query.sort.value} {direction}, event_id {direction} LIMIT {{limit:UInt32}}",
        where.params | {"limit": size + 1},
    )
    more = len(rows) > size
    rows = rows[:size]
    texts = _texts(warehouse, tenant, query, rows)
    decided = effects(warehouse, tenant, [r["event_id"] for r in rows])
    items = [
        JudgedItem(
            **verdict_from_row(dict(r)).model_dump(),
            text=texts.get(r["event_id"]),
            moderation=decided[r["event_id"]].value if r["event_id"] in decided else None,
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    next_cursor = (
        cursor.encode(_cursor_value(last, query.sort), last["event_id"]) if more and last else None
    )
    total = count(warehouse, tenant, query, private=private) if query.total else None
    return Page(data=items, count=len(items), next=next_cursor, total=total)


def count(warehouse: Warehouse, tenant: str, query: PostQuery, *, private: bool = False) -> int:
    where = _where(tenant, query, private)
    rows = warehouse.rows(
        f"SELECT count() AS n FROM {_table(query)} FINAL WHERE {where.sql}",  # noqa: S608
        where.params,
    )
    return int(rows[0]["n"])


def every(
    warehouse: Warehouse,
    tenant: str,
    query: PostQuery,
    batch: int = 5_000,
    *,
    private: bool = False,
) -> Iterator[JudgedItem]:
    """Every match from `query.cursor` on, page by page (for exports).

    The first page is read now, so a bad cursor or a failing warehouse is an error response
    rather than a stream that breaks after its headers were sent.
    """
    query = query.model_copy(update={"total": False})
    first = page(warehouse, tenant, query, limit=batch, private=private)
    return _pages(warehouse, tenant, query, first, batch, private)


def _pages(
    warehouse: Warehouse, tenant: str, query: PostQuery, result: Page, batch: int, private: bool
) -> Iterator[JudgedItem]:
    while True:
        yield from result.data
        if result.next is None:
            return
        query = query.model_copy(update={"cursor": result.next})
        result = page(warehouse, tenant, query, limit=batch, private=private)
