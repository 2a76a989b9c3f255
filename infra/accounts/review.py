"""Review state in the accounts store: queue entries, reports, queue settings, webhook endpoints
and their delivery log.

Why here and not in the warehouse: a claim must be atomic (two reviewers never get one item) and
fast, which is a conditional `UPDATE` on one row of a transactional store; ClickHouse has no such
update. The decisions themselves are records on `moderation.actions` and rows in the warehouse:
this state is only the work in progress.

A queue entry's `rank` is its priority as a point in time: the time it entered review, moved
earlier by its score, its author's strikes and its reports (`api/review/queues.py`). Every
entry ages at the same pace, so ordering by a stored `rank` is ordering by priority-with-age,
and the next page of a queue is one range of the index `(tenant, queue, state, rank)`;
a claim finds the first free entry in `ix_review_free` (`api/review/claims.py`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.accounts.models import Base, UTCDateTime, utcnow

OPEN = "open"
DECIDED = "decided"


class ReviewItem(Base):
    """One item waiting for (or past) review in one queue; many reports are one entry. An appeal
    is an entry of its own (`origin = appeal`), naming the action appealed."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("tenant", "event_id", "origin_key"),
        # A queue's page: open entries (held ones too) in rank order.
        Index("ix_review_next", "tenant", "queue", "state", "rank", "id"),
        # A claim: the first entry never held (or released) is the first of the range
        # `lease_until IS NULL`, whatever how many are held; expired leases are a short range
        # of their own. The columns a claim also tests ride along, so it reads no row.
        Index(
            "ix_review_free",
            "tenant",
            "queue",
            "state",
            "lease_until",
            "rank",
            "id",
            "excluded_reviewer",
            "kind",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    rank: Mapped[float] = mapped_column(Float)
    event_id: Mapped[str] = mapped_column(String(256))
    origin_key: Mapped[str] = mapped_column(
        String(300), doc="`item` for the item's own review, `appeal:<action id>` for an appeal"
    )
    origin: Mapped[str] = mapped_column(String(16), doc="verdict, report or appeal")
    item_id: Mapped[str] = mapped_column(String(256))
    author: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8), default="")
    labels: Mapped[str] = mapped_column(String(500), default="", doc="space-separated")
    toxic: Mapped[float] = mapped_column(Float, default=0.0)
    model_decision: Mapped[str] = mapped_column(String(16), default="")
    author_strikes: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    report_categories: Mapped[str] = mapped_column(String(500), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(300), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    excluded_reviewer: Mapped[str | None] = mapped_column(
        String(300), default=None, doc="who may not decide it: the decider of the appealed action"
    )
    appeal_of: Mapped[str | None] = mapped_column(String(100), default=None)
    appeal_text: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    action_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    decided_action: Mapped[str | None] = mapped_column(String(16), default=None)


class Report(Base):
    """One end user's report of an item, sent by the upstream app."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("tenant", "event_id", "reporter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(256))
    reporter: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewQueue(Base):
    """A tenant's queue: its routing rule and SLA (a `api.review.queues.QueueConfig` as JSON)."""

    __tablename__ = "review_queues"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(String(200), doc="space-separated: action notice")
    secret: Mapped[str] = mapped_column(String(500), doc="the signing secret, Fernet-encrypted")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One payload for one endpoint: its attempts so far, and when to try next."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_due", "state", "next_at"),
        # A record read again finds its delivery (api/review/deliveries.py).
        Index("ix_webhook_record", "endpoint_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ReviewGrant(Base):
    """One queue a reviewer may work in. A caller with the `review` scope but not `moderate`
    lists, claims, releases and decides only in the queues granted to it: to its token
    (`token:<id>`) or to its user (`user:<email>`, which covers that user's tokens too)."""

    __tablename__ = "review_grants"
    __table_args__ = (UniqueConstraint("tenant", "reviewer", "queue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(300), doc="user:<email> or token:<id>")
    queue: Mapped[str] = mapped_column(String(64))
    granted_by: Mapped[str] = mapped_column(String(300))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TenantReason(Base):
    """A reason a tenant added to the default taxonomy (`schemas.moderation.REASONS`), mapped to
    a category of the EU Transparency Database as the default ones are (api/review/taxonomy.py)."""

    __tablename__ = "tenant_reasons"
    __table_args__ = (UniqueConstraint("tenant", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    dsa_category: Mapped[str] = mapped_column(String(100))
    ground: Mapped[str] = mapped_column(String(16), doc="illegal or incompatible")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
