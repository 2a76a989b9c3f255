"""What the item page reads besides the review routes: every queue entry of one item (its own
review and its appeals), its reports, and its actions as the warehouse keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
