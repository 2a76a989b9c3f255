"""Author statistics: the list from the `rollup_authors` rollup, one author live from
`verdicts_by_author FINAL` (one primary-key range, so always current and exact)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.read import cursor
from api.read.cursor import Cursor
from api.read.where import Where
from api.rollups import EFFECTIVE_DECISION, HARMFUL, decided_where
from infra.warehouse import Warehouse


class AuthorSort(StrEnum):
    HARMFUL = "harmful"
    HARMFUL_SHARE = "harmful_share"
    ITEMS = "items"
    STRIKES = "strikes"
    LAST_SEEN = "last_seen"
    FIRST_SEEN = "first_seen"


# The allow-list of sort expressions (identifiers never come from input).
_SORTS: dict[AuthorSort, tuple[str, str]] = {
    AuthorSort.HARMFUL: ("harmful", "UInt64"),
    AuthorSort.HARMFUL_SHARE: ("harmful / items", "Float64"),
    AuthorSort.ITEMS: ("items", "UInt64"),
    AuthorSort.STRIKES: ("reject", "UInt64"),
    AuthorSort.LAST_SEEN: ("last_seen", "DateTime64(3, 'UTC')"),
    AuthorSort.FIRST_SEEN: ("first_seen", "DateTime64(3, 'UTC')"),
}


class AuthorQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sort: AuthorSort = Field(default=AuthorSort.HARMFUL, description="Most harmful first.")
    order: Literal["desc", "asc"] = "desc"
    min_items: int = Field(default=1, ge=1, description="Only authors with this many items.")
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: Cursor = None


class AuthorStats(BaseModel):
    author: str
    items: int = Field(description="Items judged.")
    decisions: dict[str, int] = Field(description="Items per decision.")
    labels: dict[str, int] = Field(description=f"Items per label (score >= {HARMFUL}).")
    harmful: int = Field(description=f"Items with toxic >= {HARMFUL}.")
    harmful_share: float
    languages: dict[str, int]
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    strikes: int = Field(description="Rejected items.")


class AuthorPage(BaseModel):
    data: list[AuthorStats]
    count: int = Field(description="Authors in `data`.")
    next: str | None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stats(row: dict[str, Any]) -> AuthorStats:
    decisions = {"approve": row["approve"], "review": row["review"], "reject": row["reject"]}
    return AuthorStats(
        author=row["author"],
        items=row["items"],
        decisions=decisions,
        labels={k: v for k, v in row["labels"].items() if v},
        harmful=row["harmful"],
        harmful_share=row["harmful"] / row["items"] if row["items"] else 0.0,
        languages={k: v for k, v in row["langs"].items() if v},
        first_seen=_utc(row["first_seen"]),
        last_seen=_utc(row["last_seen"]),
        strikes=row["reject"],
    )


_COLUMNS = "author, items, approve, review, reject, harmful, labels, langs, first_seen, last_seen"


def page(warehouse: Warehouse, tenant: str, query: AuthorQuery) -> AuthorPage:
    expr, kind = _SORTS[query.sort]
    where = Where().add("tenant = {tenant:String}", tenant=tenant)
    where.add("items >= {min_items:UInt64}", min_items=query.min_items)
    if query.cursor:
        key, tie = cursor.decode(query.cursor)
        where.add(
            cursor.after(f"({expr})", kind, "author", query.order),
            c_value=cursor.value(key, kind),
            c_tie=tie,
        )
    direction = "DESC" if query.order == "desc" else "ASC"
    # One pass over the tenant's authors, top-N sorted. Ranking on narrow columns first and then
    # reading the page's rows by key cost about twice the CPU: ten columns sought at fifty keys.
    rows = warehouse.rows(
        f"SELECT {_COLUMNS}, {expr} AS sort_key FROM rollup_authors FINAL "  # noqa: S608
        f"WHERE {where.sql} ORDER BY sort_key {direction}, author {direction} "
        "LIMIT {limit:UInt32}",
        where.params | {"limit": query.limit + 1},
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more:
        key = rows[-1]["sort_key"]
        next_cursor = cursor.encode(
            key if isinstance(key, datetime) else float(key), rows[-1]["author"]
        )
    data = [_stats(r) for r in rows]
    return AuthorPage(data=data, count=len(data), next=next_cursor)


def get(warehouse: Warehouse, tenant: str, author: str) -> AuthorStats | None:
    """One author's statistics, read fresh: their verdicts (one key range of
    `verdicts_by_author`) counted by effective decision, their reviewed items' decisions joined."""
    rows = warehouse.rows(
        f"""
        SELECT author, count() AS items, countIf(decision = 'approve') AS approve,
               countIf(decision = 'review') AS review, countIf(decision = 'reject') AS reject,
               countIf(toxic >= {HARMFUL}) AS harmful,
               sumMap(CAST(mapApply((k, x) -> (k, toUInt64(x >= {HARMFUL})), scores),
                           'Map(String, UInt64)')) AS labels,
               sumMap(map(toString(lang), toUInt64(1))) AS langs,
               min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
        FROM (
            SELECT v.author AS author, {EFFECTIVE_DECISION} AS decision, v.toxic AS toxic,
                   v.scores AS scores, v.lang AS lang, v.occurred_at AS occurred_at
            FROM verdicts_by_author AS v FINAL
            LEFT JOIN ({decided_where(_ONE_AUTHOR)}) AS d
              ON d.tenant = v.tenant AND d.event_id = v.event_id
            WHERE v.tenant = {{tenant:String}} AND v.author = {{author:String}}
        )
        GROUP BY author
        """,  # noqa: S608 - a constant threshold and constant SQL, values bound
        {"tenant": tenant, "author": author},
    )
    return _stats(rows[0]) if rows else None


_ONE_AUTHOR = "tenant = {tenant:String} AND author = {author:String}"
