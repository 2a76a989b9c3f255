"""Verdicts to webhooks: the review intake (`api/review/intake.py`), which reads `verdicts.text`
in the API process, queues a delivery of each verdict to every endpoint of its tenant that
subscribed to `verdict` (all decisions, or only the `verdict:<decision>` it named).

Delivery is at least once, never lost: the rows are written before the intake commits its
offsets, so a crash in between reads the batch again, and the rows already written are found
(by endpoint and record id) and not written twice. The deliverer then sends each row until a 2xx
(a receiver whose answer was lost gets it again: receivers dedupe on the `id`). The record id is
`<event_id>@<judged_at in ms>`: a verdict read again is the same record; an item judged anew is
another.

A tenant in privacy mode gets no `rewrite` (words of the text), as the warehouse keeps none.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from api.review.webhooks import VERDICT
from infra.accounts.models import Tenant
from infra.accounts.review import WebhookDelivery, WebhookEndpoint
from schemas.records import Verdict


def record_id(verdict: Verdict) -> str:
    return f"{verdict.event_id}@{int(verdict.judged_at.timestamp() * 1000)}"


def takes(events: str, decision: str) -> bool:
    tokens = events.split()
    return VERDICT in tokens or f"{VERDICT}:{decision}" in tokens


def _body(verdict: Verdict, private: bool) -> str:
    data = verdict.model_dump(mode="json", exclude={"rewrite"} if private else None)
    return json.dumps({"type": VERDICT, "id": record_id(verdict), "data": data}, sort_keys=True)


def enqueue_verdicts(session: Session, verdicts: Sequence[Verdict]) -> int:
    """Queue each verdict for its tenant's subscribed endpoints, once; returns the rows added."""
    tenants = sorted({v.tenant for v in verdicts})
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant.in_(tenants),
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.events.contains(VERDICT),
        )
    ).all()
    if not endpoints:
        return 0
    by_tenant: defaultdict[str, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant].append(endpoint)
    wanted = [
        (endpoint, verdict)
        for verdict in verdicts
        for endpoint in by_tenant.get(verdict.tenant, ())
        if takes(endpoint.events, verdict.decision.value)
    ]
    if not wanted:
        return 0
    keys = {(e.id, record_id(v)) for e, v in wanted}
    found = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.record_id).where(
            WebhookDelivery.event_type == VERDICT,
            tuple_(WebhookDelivery.endpoint_id, WebhookDelivery.record_id).in_(keys),
        )
    )
    known = {(endpoint_id, record) for endpoint_id, record in found}
    private = set(
        session.scalars(
            select(Tenant.name).where(Tenant.name.in_(tenants), Tenant.privacy_mode.is_(True))
        )
    )
    added = 0
    for endpoint, verdict in wanted:
        key = (endpoint.id, record_id(verdict))
        if key in known:
            continue
        known.add(key)  # the same verdict twice in one batch is one delivery
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, tenant=verdict.tenant, event_type=VERDICT,
                record_id=key[1], body=_body(verdict, verdict.tenant in private),
            )
        )  # fmt: skip
        added += 1
    return added
