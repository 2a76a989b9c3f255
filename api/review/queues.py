"""Queues: per tenant, which items each holds (routing), in which order (priority), and how long an
item may wait (SLA). A tenant with no queue configured has `default` for everything and `appeals`
for appeals; a configured queue takes the items its rule matches, first queue (by `position`)
first, and `default` keeps the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.read.where import INTEGRAL
from infra.accounts.review import ReviewQueue
from schemas.events import Kind

DEFAULT = "default"
APPEALS = "appeals"
ESCALATIONS = "escalations"
HOUR = 3600.0

QUEUE_NAME = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
QueueName = Field(pattern=QUEUE_NAME, examples=["hate-ar"])


class QueueConfig(BaseModel):
    """A queue's routing rule (every condition given must hold; an empty list is no condition),
    its SLA and its place in the routing order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"labels": ["identity_hate"], "langs": ["ar"], "sla_seconds": 3600}]
        },
    )

    labels: list[str] = Field(default_factory=list, max_length=32, description="Any of these.")
    langs: list[str] = Field(default_factory=list, max_length=32)
    sources: list[str] = Field(default_factory=list, max_length=32)
    kinds: list[Kind] = Field(default_factory=list, max_length=4)
    report_categories: list[str] = Field(default_factory=list, max_length=32)
    # Integers as JSON Schema has them: `3600.0` is one, `false` and `"3600"` are not.
    sla_seconds: Annotated[int, Strict(), Field(ge=60), INTEGRAL] | None = Field(
        default=None, description="Default: the setting."
    )
    position: Annotated[int, Strict(), Field(ge=0, le=10_000), INTEGRAL] = Field(
        default=100, description="Lower routes first."
    )


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing and priority read of an item."""

    labels: frozenset[str]
    lang: str
    source: str
    kind: str
    report_categories: frozenset[str]
    toxic: float
    author_strikes: int
    reports: int


def matches(config: QueueConfig, facts: Facts) -> bool:
    checks = (
        (config.labels, facts.labels.intersection(config.labels)),
        (config.langs, facts.lang in config.langs),
        (config.sources, facts.source in config.sources),
        (config.kinds, facts.kind in {k.value for k in config.kinds}),
        (config.report_categories, facts.report_categories.intersection(config.report_categories)),
    )
    return all(bool(ok) for wanted, ok in checks if wanted)


def named(name: str) -> bool:
    """Whether a rule's `queue "NAME"` can hold items: a valid queue name, and not one of the
    queues the review service fills itself (appeals, escalations)."""
    return bool(re.fullmatch(QUEUE_NAME, name)) and name not in (APPEALS, ESCALATIONS)


def route(configs: Sequence[tuple[str, QueueConfig]], facts: Facts) -> str:
    """The first configured queue whose rule matches, else `default`."""
    for name, config in sorted(configs, key=lambda c: (c[1].position, c[0])):
        if name not in (APPEALS, ESCALATIONS) and matches(config, facts):
            return name
    return DEFAULT


def rank(enqueued_at: datetime, facts: Facts) -> float:
    """Priority as a point in time (lower is sooner): when the item entered review, moved earlier
    by four hours at a toxic score of 1, an hour per author strike (up to ten) and two hours per
    doubling of its reports. All items age alike, so the order by rank is the order by priority
    with age, and it can be stored and indexed."""
    boost = 4 * facts.toxic + min(facts.author_strikes, 10) + 2 * math.log2(1 + facts.reports)
    return enqueued_at.timestamp() - HOUR * boost


def configs(session: Session, tenant: str) -> list[tuple[str, QueueConfig]]:
    rows = session.scalars(select(ReviewQueue).where(ReviewQueue.tenant == tenant)).all()
    return [(r.name, QueueConfig.model_validate_json(r.document)) for r in rows]


def put(session: Session, tenant: str, name: str, config: QueueConfig, now: datetime) -> None:
    row = session.scalars(
        select(ReviewQueue).where(ReviewQueue.tenant == tenant, ReviewQueue.name == name)
    ).one_or_none()
    if row is None:
        row = ReviewQueue(tenant=tenant, name=name, document="")
        session.add(row)
    row.document = config.model_dump_json(exclude_defaults=True)
    row.updated_at = now


def drop(session: Session, tenant: str, name: str) -> bool:
    row = session.scalars(
        select(ReviewQueue).where(ReviewQueue.tenant == tenant, ReviewQueue.name == name)
    ).one_or_none()
    if row is not None:
        session.delete(row)
    return row is not None
