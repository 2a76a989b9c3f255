"""Webhook deliveries queued once per endpoint and record: what verdicts and rules send
(`verdict_hooks.py`, `rule_hooks.py`) go through here.

The rows are written before the review intake commits its offsets; a batch read again finds its
rows (by endpoint and record id) and writes none twice, nor the same record twice in one batch.
The body is made per tenant: one in privacy mode gets no `rewrite` (words of the text).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from infra.accounts.models import Tenant
from infra.accounts.review import WebhookDelivery, WebhookEndpoint


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to deliver to the tenant's endpoints that take it."""

    tenant: str
    record_id: str
    body: Callable[[bool], str]
    """The body, given whether the tenant is in privacy mode."""
    taken_by: Callable[[str], bool]
    """Whether an endpoint subscribed to these `events` (its space-separated tokens) takes it."""


def enqueue(session: Session, event_type: str, records: Sequence[Outgoing]) -> int:
    """Queue each record for its tenant's active endpoints subscribed to `event_type` that take
    it, once; returns the rows added."""
    if not records:
        return 0
    tenants = sorted({r.tenant for r in records})
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant.in_(tenants),
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.events.contains(event_type),
        )
    ).all()
    by_tenant: defaultdict[str, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant].append(endpoint)
    wanted = [
        (endpoint, record)
        for record in records
        for endpoint in by_tenant.get(record.tenant, ())
        if record.taken_by(endpoint.events)
    ]
    if not wanted:
        return 0
    keys = {(e.id, r.record_id) for e, r in wanted}
    found = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.record_id).where(
            WebhookDelivery.event_type == event_type,
            tuple_(WebhookDelivery.endpoint_id, WebhookDelivery.record_id).in_(keys),
        )
    )
    known = {(endpoint_id, record_id) for endpoint_id, record_id in found}
    private = set(
        session.scalars(
            select(Tenant.name).where(Tenant.name.in_(tenants), Tenant.privacy_mode.is_(True))
        )
    )
    added = 0
    for endpoint, record in wanted:
        key = (endpoint.id, record.record_id)
        if key in known:
            continue
        known.add(key)  # the same record twice in one batch is one delivery
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, tenant=record.tenant, event_type=event_type,
                record_id=record.record_id, body=record.body(record.tenant in private),
            )
        )  # fmt: skip
        added += 1
    return added
