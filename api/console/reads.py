"""What the item page reads besides the review routes: every queue entry of one item (its own
review and its appeals), its reports, its actions and notices as the warehouse keeps them, and
the thread around it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.read import threads
from api.read.moderation import effects
from infra.accounts.review import Report, ReviewItem
from infra.errors import WarehouseError
from infra.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an item's history."""

    at: datetime
    what: str
    who: str
    reason: str = ""
    note: str = ""


def entries(session: Session, tenant: str, event_id: str) -> list[ReviewItem]:
    return list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.tenant == tenant, ReviewItem.event_id == event_id)
            .order_by(ReviewItem.id)
        )
    )


def reports(session: Session, tenant: str, event_id: str) -> list[Report]:
    return list(
        session.scalars(
            select(Report)
            .where(Report.tenant == tenant, Report.event_id == event_id)
            .order_by(Report.id)
        )
    )


def actions(warehouse: Warehouse, tenant: str, event_id: str) -> list[dict[str, Any]] | None:
    """The item's decisions in the warehouse, oldest first; None when it cannot be read."""
    try:
        return warehouse.rows(
            "SELECT action_id, action, reason, note, reviewer, decided_at, origin "
            "FROM moderation_actions FINAL WHERE tenant = {tenant:String} "
            "AND event_id = {event_id:String} ORDER BY decided_at, action_id",
            {"tenant": tenant, "event_id": event_id},
        )
    except WarehouseError:
        return None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def history(
    rows: list[ReviewItem], found: list[dict[str, Any]] | None, reported: list[Report]
) -> list[Step]:
    """Entering review, reports, appeals and decisions, oldest first. A decision is in the queue
    entry at once and in the warehouse (with its reason and note) once the sink stored it."""
    steps = [
        Step(r.enqueued_at, f"entered {r.queue} ({r.origin})", "model" if r.origin == "verdict"
             else "appeal" if r.origin == "appeal" else "report", note=r.appeal_text)
        for r in rows
    ]  # fmt: skip
    steps += [
        Step(r.created_at, f"reported: {r.category}", r.reporter, note=r.text) for r in reported
    ]
    known = set()
    for a in found or []:
        known.add(a["action_id"])
        steps.append(
            Step(_utc(a["decided_at"]), a["action"], a["reviewer"], a["reason"], a["note"])
        )
    for r in rows:
        if r.action_id and r.action_id not in known and r.decided_at is not None:
            steps.append(Step(r.decided_at, r.decided_action or "decided", r.claimed_by or "?"))
    return sorted(steps, key=lambda s: s.at)


@dataclass(frozen=True, slots=True)
class Line:
    """One post or comment of an item's thread, as a moderator sees it (the stored text)."""

    event_id: str
    author: str
    at: datetime
    text: str
    decision: str | None
    role: str  # post, parent, item or reply
    moderation: str | None = None  # a reviewer's effective decision: removed or visible


THREAD_READ = 500  # comments of one thread read to find the item's replies


def thread(warehouse: Warehouse, tenant: str, event_id: str) -> list[Line] | None:
    """The item's thread context, through the threads read code: the post it belongs to, the
    post or comment it replies to, itself, and its direct replies (oldest first, of the first
    `THREAD_READ` comments). None when the item is not a stored post or comment."""
    item = threads.find(warehouse, tenant, event_id)
    if item is None:
        return None
    root = item if item.parent_id is None else threads.find(warehouse, tenant, item.post_id)
    parent = None
    if item.parent_id is not None and item.parent_id != item.post_id:
        parent = threads.find(warehouse, tenant, item.parent_id)
    replies: list[threads.Stored] = []
    if root is not None:
        page, _ = threads.comments(warehouse, root, tenant, THREAD_READ, None)
        replies = [c for c in page if c.parent_id == item.event_id]
    shown = [
        (s, role)
        for s, role in ((root, "post"), (parent, "parent"), (item, "item"))
        if s is not None and (role == "item" or s.event_id != item.event_id)
    ] + [(r, "reply") for r in replies]
    judged = threads.verdicts(warehouse, tenant, [s for s, _ in shown])
    decided = effects(warehouse, tenant, [s.event_id for s, _ in shown])
    return [
        Line(s.event_id, s.author, s.occurred_at, s.text,
             judged[s.event_id].decision.value if s.event_id in judged else None, role,
             decided[s.event_id].value if s.event_id in decided else None)
        for s, role in shown
    ]  # fmt: skip


def notices(warehouse: Warehouse, tenant: str, event_id: str) -> list[dict[str, Any]] | None:
    """The notices sent about the item (to its author and its reporters), oldest first; None
    when the warehouse cannot be read."""
    try:
        return warehouse.rows(
            "SELECT notice_id, action, recipient, recipient_id, reason_title, statement, "
            "appeal_until, created_at FROM moderation_notices FINAL "
            "WHERE tenant = {tenant:String} AND event_id = {event_id:String} "
            "ORDER BY created_at, notice_id",
            {"tenant": tenant, "event_id": event_id},
        )
    except WarehouseError:
        return None
