"""Threads (`/v1/posts/{post_id}/…`): a post and its comments from the `events` table, each with
its verdict from `verdicts`, shown to a reader by the shared delivery rule (`infra.delivery`).

A comment is a `post` event whose payload names its `parent_id` (the post or another comment)
and its `thread_id` (the post). A post is looked up by its id through the `item_id` bloom index
(posts made by the API have event id = external id). A page of its comments is one key range of
`comments_by_thread` (tenant, thread, time; filled from `events` by a materialized view), then
their rows are read from `events` by primary-key points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.queries import VERDICT_COLUMNS, verdict_from_row
from api.read import cursor
from api.read.moderation import effects
from api.read.where import Where
from infra.delivery import Mode, outcome_of, shown_text, verdict_summary
from infra.warehouse import Warehouse
from schemas.moderation import Effect
from schemas.records import Verdict

Status = Literal["pending", "delivered", "masked", "flagged", "withheld"]

_COLUMNS = (
    "event_id, author, occurred_at, text, lang, "
    "JSONExtractString(payload, 'parent_id') AS parent_id, "
    "JSONExtractString(payload, 'thread_id') AS thread_id, "
    "JSONExtract(payload, 'context', 'Array(String)') AS context"
)
_TIME = "DateTime64(3, 'UTC')"


@dataclass(frozen=True, slots=True)
class Stored:
    """A post or comment as stored (the text in full: for the delivery rule, never served)."""

    event_id: str
    author: str
    occurred_at: datetime
    text: str
    lang: str | None
    parent_id: str | None
    thread_id: str | None
    context: list[str]

    @property
    def post_id(self) -> str:
        """The post at the root of this item's thread (itself, for a post)."""
        return self.thread_id or self.event_id


def _stored(row: dict[str, Any]) -> Stored:
    at = row["occurred_at"]
    return Stored(
        event_id=row["event_id"], author=row["author"],
        occurred_at=at if at.tzinfo else at.replace(tzinfo=UTC), text=row["text"],
        lang=row["lang"] or None, parent_id=row["parent_id"] or None,
        thread_id=row["thread_id"] or None, context=list(row["context"]),
    )  # fmt: skip


class VerdictSummary(BaseModel):
    event_id: str
    decision: Literal["approve", "review", "reject"]
    toxic: float
    scores: dict[str, float]
    spans: list[list[int]] = Field(description="Toxic character ranges [start, end).")
    lang: str


class ThreadItem(BaseModel):
    """A post or comment as a reader gets it."""

    id: str = Field(description="The item's id (its event id).")
    post_id: str = Field(description="The post at the root of the thread.")
    parent_id: str | None = Field(description="The post or comment replied to; null for a post.")
    author: str
    created_at: AwareDatetime
    lang: str | None = Field(description="The language the client gave, if any.")
    status: Status = Field(
        description="`pending` until judged; then `delivered`, or for a rejected item "
        "`withheld`, `masked` or `flagged` per the tenant's mode."
    )
    text: str | None = Field(
        description="As shown: null while pending (except to its author) and when withheld; "
        "toxic spans as `*` when masked."
    )
    flagged: bool
    masked: bool
    verdict: VerdictSummary | None
    moderation: Literal["removed", "visible"] | None = Field(
        default=None,
        description="A reviewer's decision, which overrides the model's: `removed` items are "
        "withheld, `visible` ones (approved, or restored on appeal) delivered.",
    )


class Thread(BaseModel):
    post: ThreadItem
    comments: list[ThreadItem] = Field(description="Oldest first; replies name their parent.")
    count: int = Field(description="Comments in this page.")
    next: str | None = Field(description="Cursor of the next page of comments; null at the end.")


def find(warehouse: Warehouse, tenant: str, item_id: str) -> Stored | None:
    """A post or comment of `tenant` by id, or None."""
    rows = warehouse.rows(
        f"SELECT {_COLUMNS} FROM events FINAL WHERE tenant = {{tenant:String}} "  # noqa: S608
        "AND kind = 'post' AND item_id = {id:String} AND event_id = {id:String} LIMIT 1",
        {"tenant": tenant, "id": item_id},
    )
    return _stored(rows[0]) if rows else None


def comments(
    warehouse: Warehouse, post: Stored, tenant: str, limit: int, after: str | None
) -> tuple[list[Stored], str | None]:
    """One page of the post's comments, oldest first, and the cursor of the next page."""
    where = (
        Where()
        .add("tenant = {tenant:String}", tenant=tenant)
        .add("thread_id = {post_id:String}", post_id=post.event_id)
    )
    if after:
        key, tie = cursor.decode(after)
        where.add(
            cursor.after("occurred_at", _TIME, "event_id", "asc"), c_value=cursor.moment(key),
            c_tie=tie,
        )  # fmt: skip
    keys = warehouse.rows(
        f"SELECT occurred_at, event_id FROM comments_by_thread FINAL WHERE {where.sql} "  # noqa: S608
        "ORDER BY occurred_at, event_id LIMIT {limit:UInt32}",
        where.params | {"limit": limit + 1},
    )
    page = keys[:limit]
    rows = (
        warehouse.rows(
            f"SELECT {_COLUMNS} FROM events FINAL WHERE tenant = {{tenant:String}} "  # noqa: S608
            f"AND occurred_at IN {{times:Array({_TIME})}} AND event_id IN {{ids:Array(String)}} "
            "ORDER BY occurred_at, event_id",
            {
                "tenant": tenant,
                "times": sorted({k["occurred_at"] for k in page}),
                "ids": [k["event_id"] for k in page],
            },
        )
        if page
        else []
    )
    items = [_stored(r) for r in rows]
    last = items[-1] if items else None
    following = (
        cursor.encode(last.occurred_at, last.event_id) if len(keys) > limit and last else None
    )
    return items, following


def verdicts(warehouse: Warehouse, tenant: str, items: list[Stored]) -> dict[str, Verdict]:
    """The verdicts of these items by event id, read by primary key points (an event shares its
    verdict's `occurred_at`); items not judged yet are missing."""
    if not items:
        return {}
    rows = warehouse.rows(
        f"SELECT {VERDICT_COLUMNS} FROM verdicts FINAL "  # noqa: S608 - constant columns
        "WHERE tenant = {tenant:String} AND occurred_at IN {times:Array(DateTime64(3, 'UTC'))} "
        "AND event_id IN {ids:Array(String)}",
        {
            "tenant": tenant,
            "times": sorted({i.occurred_at for i in items}),
            "ids": [i.event_id for i in items],
        },
    )
    return {r["event_id"]: verdict_from_row(dict(r)) for r in rows}


def shown(
    item: Stored,
    verdict: Verdict | None,
    mode: Mode,
    reader: str | None,
    effect: Effect | None = None,
) -> ThreadItem:
    """`item` as `reader` gets it: held while pending (its author sees it), then per a reviewer's
    decision if there is one, else per the mode."""
    common: dict[str, Any] = {
        "id": item.event_id, "post_id": item.post_id, "parent_id": item.parent_id,
        "author": item.author, "created_at": item.occurred_at, "lang": item.lang,
    }  # fmt: skip
    if verdict is None:
        text = item.text if reader is not None and reader == item.author else None
        return ThreadItem(
            **common, status="pending", text=text, flagged=False, masked=False, verdict=None
        )
    outcome = outcome_of(verdict, mode)
    if effect == Effect.REMOVED:
        outcome = "withheld"
    elif effect == Effect.VISIBLE:
        outcome = "delivered"
    return ThreadItem(
        **common, status=outcome, text=shown_text(item.text, outcome, verdict.spans),
        flagged=outcome == "flagged", masked=outcome == "masked",
        verdict=VerdictSummary.model_validate(verdict_summary(verdict)),
        moderation=effect.value if effect and effect != Effect.NONE else None,
    )  # fmt: skip


def thread(
    warehouse: Warehouse,
    tenant: str,
    post_id: str,
    *,
    mode: Mode,
    reader: str | None,
    limit: int,
    after: str | None = None,
) -> Thread | None:
    """The post and a page of its comments as `reader` gets them; None if there is no such post
    (a comment's id is not a post's)."""
    post = find(warehouse, tenant, post_id)
    if post is None or post.parent_id is not None:
        return None
    page, following = comments(warehouse, post, tenant, limit, after)
    judged = verdicts(warehouse, tenant, [post, *page])
    decided = effects(warehouse, tenant, [i.event_id for i in (post, *page)])
    return Thread(
        post=shown(post, judged.get(post.event_id), mode, reader, decided.get(post.event_id)),
        comments=[
            shown(c, judged.get(c.event_id), mode, reader, decided.get(c.event_id)) for c in page
        ],
        count=len(page),
        next=following,
    )
