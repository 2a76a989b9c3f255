"""Queue entries: enqueue (from a verdict or a report), list in priority order, claim with a lease,
release and reassign.

A claim is one conditional `UPDATE … WHERE id = (the first free entry) AND <still free>`: atomic
on SQLite (one writer at a time) and on PostgreSQL (a second claimer of the same row waits, then
re-checks the condition on the row it wrote and updates nothing). A claimer that updated nothing
tries the next entry. `claim_lock` serialises claims within this process only to spare SQLite's
busy-wait back-off; correctness does not depend on it.

Speed: the statement is built once; the first free entry is found in `ix_review_free` without
walking past the entries already held (their number made claims slower as they grew); the claim
commits at once, so the lock is held for one statement and one commit; the row comes back by
`RETURNING`, with no second query.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from api.review import queues
from api.review.queues import Facts
from infra.accounts.review import OPEN, Report, ReviewItem
from infra.errors import AccountsError, Conflict, Forbidden, NotFound, Rejected
from schemas.events import Kind
from schemas.moderation import Origin

claim_lock = threading.Lock()
ITEM = "item"
CHAT = Kind.CHAT_MESSAGE.value


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
) -> ReviewItem:
    """Put the item in its queue, or, if it is there, count one more report. Idempotent for a
    verdict (a replayed verdict finds its entry)."""
    entry = _entry(session, subject.tenant, subject.event_id, ITEM)
    if entry is None:
        categories = frozenset({category}) if category else frozenset()
        reports = 1 if origin == Origin.REPORT else 0
        facts = _facts(subject, strikes, reports, categories)
        entry = ReviewItem(
            tenant=subject.tenant, queue=queues.route(queues.configs(session, subject.tenant),
            facts), state=OPEN, rank=queues.rank(now, facts), event_id=subject.event_id,
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


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(ReviewItem.lease_until.is_(None), ReviewItem.lease_until < now)


def _free_at(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    return or_(ReviewItem.lease_until.is_(None), ReviewItem.lease_until < now)


def encode_cursor(item: ReviewItem) -> str:
    return base64.urlsafe_b64encode(f"{item.rank!r}:{item.id}".encode()).decode()


def decode_cursor(value: str) -> tuple[float, int]:
    try:
        rank, _, ident = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        return float(rank), int(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected("invalid_cursor", "the cursor is not one this API issued") from exc


def page(
    session: Session, tenant: str, queue: str, limit: int, cursor: str | None
) -> tuple[list[ReviewItem], str | None]:
    """Open entries of a queue, highest priority first (claimed ones included), by keyset."""
    query = select(ReviewItem).where(
        ReviewItem.tenant == tenant, ReviewItem.queue == queue, ReviewItem.state == OPEN
    )
    if cursor:
        rank, ident = decode_cursor(cursor)
        query = query.where(
            or_(ReviewItem.rank > rank, and_(ReviewItem.rank == rank, ReviewItem.id > ident))
        )
    rows = list(session.scalars(query.order_by(ReviewItem.rank, ReviewItem.id).limit(limit + 1)))
    following = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], following


def _claim_statement(private: bool) -> Update:
    """`UPDATE … SET claimed_by, lease_until WHERE id = <the first free entry> AND <still free>
    RETURNING *`, built once. The first free entry is the better (by rank) of two candidates,
    each one short range of `ix_review_free`: the first never-held (or released) entry, and the
    first entry whose lease expired (few: the expired branch has no ORDER BY of its own, so no
    planner walks the rank order of every entry to find one)."""
    item = ReviewItem
    where = [
        item.tenant == bindparam("c_tenant"), item.queue == bindparam("c_queue"),
        item.state == OPEN,
        or_(item.excluded_reviewer.is_(None), item.excluded_reviewer != bindparam("c_reviewer")),
        *(() if private else (item.kind != CHAT,)),
    ]  # fmt: skip
    now = bindparam("c_now", type_=item.lease_until.type)
    never = (
        select(item.id, item.rank)
        .where(*where, item.lease_until.is_(None))
        .order_by(item.rank, item.id)
        .limit(1)
        .subquery()
    )
    expired = select(item.id, item.rank).where(*where, item.lease_until < now).subquery()
    both = union_all(select(never.c.id, never.c.rank), select(expired.c.id, expired.c.rank))
    candidates = both.subquery()
    first = select(candidates.c.id).order_by(candidates.c.rank, candidates.c.id).limit(1)
    return (
        update(item)
        .where(item.id == first.scalar_subquery(), item.state == OPEN, _free_at(now))
        .values(claimed_by=bindparam("c_reviewer"), lease_until=bindparam("c_until"))
        .returning(*item.__table__.c)
    )


_CLAIMS = {private: _claim_statement(private) for private in (True, False)}


@dataclass(slots=True)
class _Claim:
    """One reviewer's claim, waiting for whichever thread holds `claim_lock` to run it."""

    private: bool
    params: dict[str, object]
    done: bool = False
    row: Row[Any] | None = None
    error: BaseException | None = None


_waiting: list[_Claim] = []
_waiting_lock = threading.Lock()


def _claim_together(session: Session, claim: _Claim) -> Row[Any] | None:
    """Run `claim`, and every claim waiting beside it, in one transaction (group commit).

    Concurrent reviewers would otherwise each wait for the others' commits, one by one. The
    thread that takes the lock runs every claim queued so far, each its own conditional
    `UPDATE` (within one transaction each sees the ones before it, so no row is given twice),
    and commits once; the others find theirs done when the lock is theirs.
    """
    with _waiting_lock:
        _waiting.append(claim)
    with claim_lock:
        if not claim.done:
            with _waiting_lock:
                batch = _waiting[:]
                _waiting.clear()
            try:
                connection = session.connection()
                for each in batch:
                    each.row = connection.execute(_CLAIMS[each.private], each.params).first()
                session.commit()
            except BaseException as exc:
                for each in batch:
                    each.row, each.error = None, exc
                raise
            finally:
                for each in batch:
                    each.done = True
    if claim.error is not None:
        raise AccountsError(f"accounts store: a claim failed: {claim.error!r}") from claim.error
    return claim.row


def claim_next(
    session: Session,
    tenant: str,
    queue: str,
    reviewer: str,
    lease: float,
    now: datetime,
    *,
    private: bool = True,
) -> ReviewItem | None:
    """Lease the first free entry of the queue to `reviewer` (never one they may not decide;
    chat messages only if `private`): one statement, committed at once with the claims of
    other reviewers asking at the same moment. The caller's session is committed first; the
    row comes back detached from it (its fields are all a route reads)."""
    params: dict[str, object] = {
        "c_tenant": tenant, "c_queue": queue, "c_reviewer": reviewer, "c_now": now,
        "c_until": now + timedelta(seconds=lease),
    }  # fmt: skip
    session.commit()
    for _ in range(20):  # another process may win the row; then the next one
        won = _claim_together(session, _Claim(private=private, params=params))
        if won is not None:
            held = session.identity_map.get(identity_key(ReviewItem, won.id))
            if held is not None:  # loaded earlier in this session: now out of date
                session.expire(held)
            return ReviewItem(**won._asdict())
        if not _any_free(session, tenant, queue, reviewer, now, private=private):
            return None
    return None


def _any_free(
    session: Session, tenant: str, queue: str, reviewer: str, now: datetime, *, private: bool
) -> bool:
    found = session.scalar(
        select(ReviewItem.id)
        .where(
            ReviewItem.tenant == tenant, ReviewItem.queue == queue, ReviewItem.state == OPEN,
            _free(now),
            or_(ReviewItem.excluded_reviewer.is_(None), ReviewItem.excluded_reviewer != reviewer),
            *(() if private else (ReviewItem.kind != CHAT,)),
        )
        .limit(1)
    )  # fmt: skip
    return found is not None


def get(session: Session, tenant: str, ident: int) -> ReviewItem:
    item = session.get(ReviewItem, ident)
    if item is None or item.tenant != tenant:
        raise NotFound("not_found", f"no review item {ident}")
    return item


def claim(
    session: Session, tenant: str, ident: int, reviewer: str, lease: float, now: datetime
) -> ReviewItem:
    """Lease one given entry, if it is open and free (or already the reviewer's)."""
    item = get(session, tenant, ident)
    if item.excluded_reviewer == reviewer:
        raise Forbidden(
            "same_reviewer", "an appeal is decided by another reviewer than the first decision's"
        )
    with claim_lock:
        won = session.execute(
            update(ReviewItem)
            .where(
                ReviewItem.id == ident, ReviewItem.state == OPEN,
                or_(_free(now), ReviewItem.claimed_by == reviewer),
            )
            .values(claimed_by=reviewer, lease_until=now + timedelta(seconds=lease))
            .returning(ReviewItem.id)
        ).scalar_one_or_none()  # fmt: skip
        session.commit()
    if won is None:
        session.refresh(item)
        if item.state != OPEN:
            raise Conflict("decided", f"review item {ident} is decided already")
        raise Conflict("claimed", f"review item {ident} is claimed by another reviewer")
    session.refresh(item)
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
