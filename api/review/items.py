"""Queue entries: enqueue (from a verdict or a report), list in priority order, hold (release,
reassign) and the reviewer's summary of each queue. Claims are in `api/review/claims.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from api.read import cursor
from api.review import queues
from api.review.queues import Facts
from infra.accounts.review import OPEN, Report, ReviewItem
from infra.errors import Conflict, Forbidden, NotFound, Rejected
from schemas.events import Kind
from schemas.moderation import Origin

ITEM = "item"
CHAT = Kind.CHAT_MESSAGE.value

Entry = ReviewItem | Row[Any]
"""A queue entry as the ORM loads it, or as a claim's statement returns it (a row with the same
fields: claims skip building an ORM instance)."""
E = TypeVar("E", ReviewItem, Row[Any])


@dataclass(frozen=True, slots=True)
class Subject:
    """The item a queue entry is about, as the warehouse knows it."""

    tenant: str
    event_id: str
    item_id: str
    author: str
    source: str
    kind: str
    occurred_at: datetime
    lang: str
    scores: dict[str, float]
    toxic: float
    model_decision: str

    def labels(self, threshold: float = 0.5) -> frozenset[str]:
        return frozenset(k for k, v in self.scores.items() if v >= threshold)


def _facts(subject: Subject, strikes: int, reports: int, categories: frozenset[str]) -> Facts:
    return Facts(
        labels=subject.labels(), lang=subject.lang, source=subject.source, kind=subject.kind,
        report_categories=categories, toxic=subject.toxic, author_strikes=strikes,
        reports=reports,
    )  # fmt: skip


def _entry(session: Session, tenant: str, event_id: str, origin_key: str) -> ReviewItem | None:
    return session.scalars(
        select(ReviewItem).where(
            ReviewItem.tenant == tenant,
            ReviewItem.event_id == event_id,
            ReviewItem.origin_key == origin_key,
        )
    ).one_or_none()


def enqueue(
    session: Session,
    subject: Subject,
    *,
    strikes: int,
    now: datetime,
    origin: Origin,
    category: str | None = None,
    queue: str | None = None,
) -> ReviewItem:
    """Put the item in its queue (`queue`, a rule's choice, else the tenant's routing), or, if it
    is there, count one more report. Idempotent for a verdict (a replayed verdict finds its
    entry, wherever it was put)."""
    entry = _entry(session, subject.tenant, subject.event_id, ITEM)
    if entry is None:
        categories = frozenset({category}) if category else frozenset()
        reports = 1 if origin == Origin.REPORT else 0
        facts = _facts(subject, strikes, reports, categories)
        entry = ReviewItem(
            tenant=subject.tenant,
            queue=queue or queues.route(queues.configs(session, subject.tenant), facts),
            state=OPEN, rank=queues.rank(now, facts), event_id=subject.event_id,
            origin_key=ITEM, origin=origin.value, item_id=subject.item_id, author=subject.author,
            source=subject.source, kind=subject.kind, lang=subject.lang,
            labels=" ".join(sorted(facts.labels)), toxic=subject.toxic,
            model_decision=subject.model_decision, author_strikes=strikes, reports=reports,
            report_categories=" ".join(sorted(categories)), occurred_at=subject.occurred_at,
            enqueued_at=now,
        )  # fmt: skip
        session.add(entry)
        session.flush()
        return entry
    if origin == Origin.REPORT:
        entry.reports += 1
        if category:
            entry.report_categories = " ".join(
                sorted(set(entry.report_categories.split()) | {category})
            )
        facts = _facts(
            subject, entry.author_strikes, entry.reports, frozenset(entry.report_categories.split())
        )
        entry.rank = queues.rank(entry.enqueued_at, facts)
    return entry


def report(
    session: Session,
    subject: Subject,
    *,
    reporter: str,
    category: str,
    text: str,
    strikes: int,
    now: datetime,
) -> tuple[ReviewItem, bool]:
    """Record one reporter's report and count it on the item's entry; a second report of one item
    by one reporter is not counted again (returns False)."""
    known = session.scalars(
        select(Report).where(
            Report.tenant == subject.tenant,
            Report.event_id == subject.event_id,
            Report.reporter == reporter,
        )
    ).one_or_none()
    if known is not None:
        entry = _entry(session, subject.tenant, subject.event_id, ITEM)
        if entry is not None:
            return entry, False
    else:
        session.add(
            Report(
                tenant=subject.tenant,
                event_id=subject.event_id,
                reporter=reporter,
                category=category,
                text=text,
                created_at=now,
            )
        )
    entry = enqueue(
        session, subject, strikes=strikes, now=now, origin=Origin.REPORT, category=category
    )
    return entry, known is None


def reporters(session: Session, tenant: str, event_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Report.reporter)
            .where(Report.tenant == tenant, Report.event_id == event_id)
            .order_by(Report.id)
        )
    )


CURSOR_PATTERN = rf"^{cursor.NUMBER}~[0-9]{{1,18}}$"
"""`<rank>~<item id>` of the last entry served: every such value is a position in the queue."""
CURSOR_DESCRIPTION = (
    "`next` of the previous page: `<rank>~<item id>` of the last entry served; the page starts "
    "after it."
)


def encode_cursor(item: ReviewItem) -> str:
    return cursor.encode(item.rank, item.id)


def decode_cursor(value: str) -> tuple[float, int]:
    rank, ident = cursor.decode(value)
    if not ident.isascii() or not ident.isdigit():
        raise Rejected("invalid_cursor", "a queue's cursor is `<rank>~<item id>`, e.g. 0.25~17")
    return rank, int(ident)


def page(
    session: Session, tenant: str, queue: str, limit: int, after: str | None
) -> tuple[list[ReviewItem], str | None]:
    """Open entries of a queue, highest priority first (claimed ones included), by keyset."""
    query = select(ReviewItem).where(
        ReviewItem.tenant == tenant, ReviewItem.queue == queue, ReviewItem.state == OPEN
    )
    if after:
        rank, ident = decode_cursor(after)
        query = query.where(
            or_(ReviewItem.rank > rank, and_(ReviewItem.rank == rank, ReviewItem.id > ident))
        )
    rows = list(session.scalars(query.order_by(ReviewItem.rank, ReviewItem.id).limit(limit + 1)))
    following = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], following


def get(session: Session, tenant: str, ident: int) -> ReviewItem:
    item = session.get(ReviewItem, ident)
    if item is None or item.tenant != tenant:
        raise NotFound("not_found", f"no review item {ident}")
    return item


def holding(session: Session, tenant: str, ident: int, reviewer: str, now: datetime) -> ReviewItem:
    """The entry, if `reviewer` holds a live lease on it."""
    item = get(session, tenant, ident)
    if item.state != OPEN:
        raise Conflict("decided", f"review item {ident} is decided already")
    lease = item.lease_until
    if item.claimed_by != reviewer or lease is None or lease < now:
        raise Conflict("not_claimed", f"claim review item {ident} first (or your lease expired)")
    return item


def release(session: Session, tenant: str, ident: int, reviewer: str, now: datetime) -> ReviewItem:
    item = holding(session, tenant, ident, reviewer, now)
    item.claimed_by, item.lease_until = None, None
    return item


def reassign(
    session: Session, tenant: str, ident: int, to: str, lease: float, now: datetime
) -> ReviewItem:
    """Give an open entry to another reviewer (a moderator's override of any current lease)."""
    item = get(session, tenant, ident)
    if item.state != OPEN:
        raise Conflict("decided", f"review item {ident} is decided already")
    if item.excluded_reviewer == to:
        raise Forbidden("same_reviewer", "that reviewer decided the appealed action")
    item.claimed_by, item.lease_until = to, now + timedelta(seconds=lease)
    return item


@dataclass(frozen=True, slots=True)
class QueueSummary:
    name: str
    open: int
    claimed: int
    oldest: datetime | None
    breaches: int
    sla_seconds: int


def summaries(session: Session, tenant: str, default_sla: int, now: datetime) -> list[QueueSummary]:
    """Every queue of the tenant with open items or a configuration: counts, SLA breaches."""
    config = dict(queues.configs(session, tenant))
    slas = {name: c.sla_seconds or default_sla for name, c in config.items()}
    rows = session.execute(
        select(
            ReviewItem.queue, func.count(), func.min(ReviewItem.enqueued_at),
            func.count(ReviewItem.lease_until).filter(ReviewItem.lease_until >= now),
        )
        .where(ReviewItem.tenant == tenant, ReviewItem.state == OPEN)
        .group_by(ReviewItem.queue)
    ).all()  # fmt: skip
    found = {r[0]: r for r in rows}
    out = []
    for name in sorted(set(found) | set(config) | {queues.DEFAULT}):
        sla = slas.get(name, default_sla)
        breaches = session.scalar(
            select(func.count()).where(
                ReviewItem.tenant == tenant, ReviewItem.queue == name, ReviewItem.state == OPEN,
                ReviewItem.enqueued_at < now - timedelta(seconds=sla),
            )
        ) if name in found else 0  # fmt: skip
        row = found.get(name)
        out.append(
            QueueSummary(
                name=name,
                open=row[1] if row else 0,
                claimed=row[3] if row else 0,
                oldest=row[2] if row else None,
                breaches=int(breaches or 0),
                sla_seconds=sla,
            )
        )
    return out
