"""Review queues (`/v1/review/…`): list queues and their items in priority order, claim with a
lease, release, reassign, decide. Needs the `moderate` scope (every queue) or `review` (the queues
granted to the caller, `api/review/grants.py`); configuring queues needs `admin`. A chat message's
entry is private: without the `private` scope it is redacted in lists, skipped by claims and
refused by the item routes; with it, every read is audited (`private.read`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from api.accounts import service
from api.accounts.service import Context
from api.deps import ContextDep, CurrentPrincipal, Moderator, StateDep, TenantAdmin
from api.errors import ApiError, responses
from api.read.where import WarehouseTime
from api.review import agreement, claims, decisions, grants, items, queues, webhooks
from api.review.agreement import Agreement
from api.review.decisions import DecisionIn, Outcome
from api.review.grants import Access
from api.review.items import E, Entry
from api.review.queues import QueueConfig
from api.state import AppState
from infra.errors import Forbidden
from schemas.moderation import ModerationAction
from schemas.topics import MODERATION_ACTIONS, MODERATION_NOTICES

router = APIRouter(prefix="/v1/review", tags=["review"])

QueuePath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$", examples=["default"])]
ItemPath = Annotated[int, Path(ge=1, le=2**62, examples=[42])]


class QueueInfo(BaseModel):
    name: str
    open: int = Field(description="Open items (claimed ones included).")
    claimed: int = Field(description="Open items under a live lease.")
    oldest: AwareDatetime | None = Field(description="When the oldest open item entered.")
    sla_seconds: int
    breaches: int = Field(description="Open items waiting longer than the SLA.")


class ItemOut(BaseModel):
    """A queue entry as reviewers see it."""

    id: int
    queue: str
    state: str
    origin: str = Field(description="`verdict`, `report` or `appeal`.")
    event_id: str
    item_id: str
    author: str
    source: str
    kind: str
    lang: str
    labels: list[str]
    toxic: float | None = Field(description="Null when redacted.")
    model_decision: str
    author_strikes: int
    reports: int
    report_categories: list[str]
    occurred_at: AwareDatetime
    enqueued_at: AwareDatetime
    claimed_by: str | None
    lease_until: AwareDatetime | None
    appeal_of: str | None
    appeal_text: str
    action_id: str | None = Field(description="The decision, once decided.")
    redacted: bool = Field(
        default=False,
        description="A chat message listed for a caller without the `private` scope: its "
        "labels, score, model decision and appeal text are left out.",
    )


class ItemPage(BaseModel):
    data: list[ItemOut]
    count: int
    next: str | None


class Reassign(BaseModel):
    reviewer: str = Field(min_length=1, max_length=300, examples=["user:ana@example.com"])


class Decided(BaseModel):
    item: ItemOut
    action: ModerationAction
    notices: int = Field(description="Notices published for the author and reporters.")


CHAT = items.CHAT


def item_out(row: Entry, now: datetime | None = None, *, private: bool = True) -> ItemOut:
    """The entry as a reviewer sees it; a chat message's verdict only with `private`."""
    lease = row.lease_until
    live = lease is not None and lease >= (now or datetime.now(UTC))
    out = ItemOut(
        id=row.id, queue=row.queue, state=row.state, origin=row.origin, event_id=row.event_id,
        item_id=row.item_id, author=row.author, source=row.source, kind=row.kind, lang=row.lang,
        labels=row.labels.split(), toxic=row.toxic, model_decision=row.model_decision,
        author_strikes=row.author_strikes, reports=row.reports,
        report_categories=row.report_categories.split(), occurred_at=row.occurred_at,
        enqueued_at=row.enqueued_at, claimed_by=row.claimed_by if live else None,
        lease_until=lease if live else None, appeal_of=row.appeal_of,
        appeal_text=row.appeal_text, action_id=row.action_id,
    )  # fmt: skip
    if row.kind == CHAT and not private:
        hidden: dict[str, object] = {
            "labels": [],
            "toxic": None,
            "model_decision": "",
            "appeal_text": "",
        }
        return out.model_copy(update=hidden | {"redacted": True})
    return out


def review_access(principal: CurrentPrincipal, state: StateDep) -> Access:
    """Who may review which queues (403 without `moderate` or `review`)."""
    with state.accounts.session() as session:
        return grants.access(session, principal)


Reviewer = Annotated[Access, Depends(review_access)]


def readable(session: Session, access: Access, row: E, ctx: Context) -> E:
    """The entry, if the caller may work on it: its queue granted, and a chat message only with
    the `private` scope (the read audited)."""
    access.check(row.queue)
    if row.kind == CHAT:
        if not access.private:
            raise Forbidden(
                "insufficient_scope",
                f"review item {row.id} is a chat message, which is private: this needs the "
                "'private' scope",
            )
        service.audit(
            session, ctx, access.tenant, access.actor, "private.read", target=f"review:{row.id}"
        )
    return row


@router.get(
    "/queues",
    response_model=list[QueueInfo],
    responses=responses(401, 403),
    summary="Queues, their open items and SLA breaches",
)
def list_queues(access: Reviewer, state: StateDep) -> list[QueueInfo]:
    """A reviewer limited to granted queues sees those only."""
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        found = items.summaries(session, access.tenant, state.settings.review.sla, now)
    return [QueueInfo.model_validate(q, from_attributes=True) for q in found if access.may(q.name)]


@router.put(
    "/queues/{queue}",
    response_model=QueueConfig,
    responses=responses(401, 403, 422),
    summary="Configure a queue (tenant admins)",
    description="Items are routed, as they enter review, to the first queue (lowest `position`) "
    "whose every given condition holds; `default` keeps the rest. Existing entries stay where "
    "they are.",
)
def put_queue(
    queue: QueuePath, config: QueueConfig, principal: TenantAdmin, state: StateDep
) -> QueueConfig:
    with state.accounts.session() as session:
        queues.put(session, principal.tenant, queue, config, datetime.now(UTC))
    return config


@router.delete(
    "/queues/{queue}", status_code=204, responses=responses(401, 403, 404),
    summary="Drop a queue's configuration (tenant admins)",
)  # fmt: skip
def delete_queue(queue: QueuePath, principal: TenantAdmin, state: StateDep) -> Response:
    with state.accounts.session() as session:
        if not queues.drop(session, principal.tenant, queue):
            raise ApiError(404, "not_found", f"no configured queue {queue!r}")
    return Response(status_code=204)


@router.get(
    "/queues/{queue}/items",
    response_model=ItemPage,
    responses=responses(400, 401, 403),
    summary="A queue's open items, highest priority first",
    description="Priority is age moved forward by the model's score, the author's strikes and "
    "the item's reports. Pages follow `next`. Chat messages are private: without the "
    "`private` scope their entries are `redacted`; with it, a page showing one is audited "
    "(`private.read`).",
)
def queue_items(
    queue: QueuePath,
    access: Reviewer,
    state: StateDep,
    ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=items.CURSOR_PATTERN, description=items.CURSOR_DESCRIPTION),
    ] = None,
) -> ItemPage:
    access.check(queue)
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        rows, following = items.page(session, access.tenant, queue, limit, cursor)
        data = [item_out(r, now, private=access.private) for r in rows]
        shown = [r.id for r in rows if r.kind == CHAT]
        if shown and access.private:
            service.audit(
                session, ctx, access.tenant, access.actor, "private.read",
                target=f"review_queue:{queue}", detail=service.audit_json(items=shown),
            )  # fmt: skip
    return ItemPage(data=data, count=len(data), next=following)


@router.post(
    "/queues/{queue}/claim",
    response_model=ItemOut,
    responses=responses(401, 403) | {204: {"description": "Nothing to claim."}},
    summary="Claim the next item of a queue",
    description="Leases the highest-priority free item to the caller for "
    "`MODSTREAM_REVIEW_LEASE` seconds; an expired lease returns the item to the queue. Two "
    "reviewers never hold one item. An appeal is never given to the reviewer who decided the "
    "decision appealed. Without the `private` scope, chat messages are skipped.",
)
def claim_next(
    queue: QueuePath, access: Reviewer, state: StateDep, ctx: ContextDep
) -> ItemOut | Response:
    access.check(queue)
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        row = claims.claim_next(
            session, access.tenant, queue, access.actor, state.settings.review.lease, now,
            private=access.private,
        )  # fmt: skip
        if row is None:
            return Response(status_code=204)
        readable(session, access, row, ctx)
        return item_out(row, now)


@router.get("/items/{review_item}", response_model=ItemOut, responses=responses(401, 403, 404))
def get_item(review_item: ItemPath, access: Reviewer, state: StateDep, ctx: ContextDep) -> ItemOut:
    """One queue entry, open or decided."""
    with state.accounts.session() as session:
        row = items.get(session, access.tenant, review_item)
        return item_out(readable(session, access, row, ctx))


@router.post(
    "/items/{review_item}/claim", response_model=ItemOut, responses=responses(401, 403, 404, 409),
    summary="Claim a given item",
)  # fmt: skip
def claim(review_item: ItemPath, access: Reviewer, state: StateDep, ctx: ContextDep) -> ItemOut:
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        readable(session, access, items.get(session, access.tenant, review_item), ctx)
        lease = state.settings.review.lease
        row = claims.claim(session, access.tenant, review_item, access.actor, lease, now)
        return item_out(row, now)


@router.post(
    "/items/{review_item}/release",
    response_model=ItemOut,
    responses=responses(401, 403, 404, 409),
    summary="Give a claimed item back to its queue",
)
def release(review_item: ItemPath, access: Reviewer, state: StateDep) -> ItemOut:
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        access.check(items.get(session, access.tenant, review_item).queue)
        row = items.release(session, access.tenant, review_item, access.actor, now)
        return item_out(row, now, private=access.private)


@router.post(
    "/items/{review_item}/reassign",
    response_model=ItemOut,
    responses=responses(401, 403, 404, 409),
    summary="Give an item to another reviewer (the `moderate` scope)",
)
def reassign(
    review_item: ItemPath, body: Reassign, principal: Moderator, state: StateDep
) -> ItemOut:
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        lease = state.settings.review.lease
        row = items.reassign(session, principal.tenant, review_item, body.reviewer, lease, now)
        return item_out(row, now, private="private" in principal.scopes)


async def publish(state: AppState, session: Session, outcome: Outcome) -> int:
    """The action and its notices onto their topics, and their webhook deliveries in the
    session (so they commit, or not, with the decision)."""
    action = outcome.action
    await state.publisher.publish_many(
        MODERATION_ACTIONS.name, [(action.partition_key, action.model_dump_json().encode())]
    )
    if outcome.notices:
        await state.publisher.publish_many(
            MODERATION_NOTICES.name,
            [(n.partition_key, n.model_dump_json().encode()) for n in outcome.notices],
        )
    data: dict[str, Any] = action.model_dump(mode="json")
    queued = webhooks.enqueue(session, action.tenant, "action", action.action_id, data)
    for notice in outcome.notices:
        queued += webhooks.enqueue(
            session, notice.tenant, "notice", notice.notice_id, notice.model_dump(mode="json")
        )
    return queued


@router.post(
    "/items/{review_item}/decision",
    response_model=Decided,
    responses=responses(401, 403, 404, 409, 422),
    summary="Decide the item you hold",
    description="`approve`, `remove`, `escalate` (to another queue, still open) or `label` an "
    "item; `uphold` or `overturn` an appeal. The decision is published on `moderation.actions` "
    "(and its notices on `moderation.notices`) before it is recorded here; removals count as "
    "strikes, approvals and overturns take them back. A reviewer limited to granted queues "
    "decides only there (escalating to any queue).",
)
async def decide(
    review_item: ItemPath, body: DecisionIn, access: Reviewer, state: StateDep, ctx: ContextDep
) -> Decided:
    now = datetime.now(UTC)
    with state.accounts.session() as session:
        row = items.holding(session, access.tenant, review_item, access.actor, now)
        readable(session, access, row, ctx)
        outcome = decisions.decide(
            session, row, body, reviewer=access.actor,
            reporters=items.reporters(session, row.tenant, row.event_id),
            appeal_window=state.settings.review.appeal_window, now=now,
        )  # fmt: skip
        queued = await publish(state, session, outcome)
        out = item_out(row, now)
    if queued and state.webhooks is not None:
        state.webhooks.wakeup.set()
    return Decided(item=out, action=outcome.action, notices=len(outcome.notices))


@router.get(
    "/agreement",
    response_model=Agreement,
    responses=responses(401, 403, 422),
    summary="The model against the reviewers, for one label",
    description="Precision and recall of the model's rejections against reviewers' effective "
    "decisions (removed or visible) on the items they decided in the period (default: the last "
    "30 days), and per score threshold, with the threshold that agreed best (F1): the data to "
    "tune the tenant's policy from its own decisions.",
)
def model_agreement(
    principal: Moderator,
    state: StateDep,
    label: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "toxic",
    since: Annotated[WarehouseTime | None, Query()] = None,
    until: Annotated[WarehouseTime | None, Query()] = None,
) -> Agreement:
    end = (until or datetime.now(UTC)).astimezone(UTC)
    start = (since or end - timedelta(days=30)).astimezone(UTC)
    found = agreement.pairs(state.warehouse, principal.tenant, label, start, end)
    return agreement.agreement(label, found)
