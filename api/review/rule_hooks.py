"""Rules to webhooks: a live rule that fired with `webhook "NAME"` among its actions becomes a
`rule` record, queued for every active endpoint of the tenant subscribed to `rule` (all of the
rules' webhooks) or to `rule:NAME`. Shadow rules (`rules.shadow`) send nothing.

The record is the verdict with the rule that fired: its name, version and actions, and the
webhook names it sent to. Its id is `<event_id>@<judged_at in ms>#<rule>`, so a batch the review
intake reads again is found (by endpoint and record id) and not written twice, as for verdicts
(`api/review/verdict_hooks.py`); one endpoint subscribed to two webhooks one rule names gets the
record once. A tenant in privacy mode gets no `rewrite`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from api.review import verdict_hooks
from api.review.webhooks import RULE
from infra.accounts.models import Tenant
from infra.accounts.review import WebhookDelivery, WebhookEndpoint
from schemas.records import FiredRule, Verdict

WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """One live rule that fired with webhooks, on one verdict."""

    verdict: Verdict
    fired: FiredRule
    names: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{verdict_hooks.record_id(self.verdict)}#{self.fired.rule}"

    def body(self, private: bool) -> str:
        verdict = self.verdict.model_dump(mode="json", exclude={"rewrite"} if private else None)
        data = {
            "rule": self.fired.rule, "version": self.fired.version,
            "actions": [a.model_dump(mode="json") for a in self.fired.actions],
            "webhooks": list(self.names), "verdict": verdict,
        }  # fmt: skip
        return json.dumps({"type": RULE, "id": self.id, "data": data}, sort_keys=True)


def records_of(verdicts: Sequence[Verdict]) -> list[RuleRecord]:
    """The live rules that fired with a `webhook` action (never the shadow ones)."""
    out = []
    for verdict in verdicts:
        for fired in verdict.rules.fired if verdict.rules else ():
            names = tuple(dict.fromkeys(a.value for a in fired.actions if a.kind == WEBHOOK))
            if names:
                out.append(RuleRecord(verdict, fired, names))
    return out


def takes(events: str, names: Sequence[str]) -> bool:
    tokens = events.split()
    return RULE in tokens or any(f"{RULE}:{n}" in tokens for n in names)


def enqueue_rules(session: Session, verdicts: Sequence[Verdict]) -> int:
    """Queue each rule record for its tenant's subscribed endpoints, once; returns rows added."""
    records = records_of(verdicts)
    if not records:
        return 0
    tenants = sorted({r.verdict.tenant for r in records})
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant.in_(tenants),
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.events.contains(RULE),
        )
    ).all()
    by_tenant: defaultdict[str, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant].append(endpoint)
    wanted = [
        (endpoint, record)
        for record in records
        for endpoint in by_tenant.get(record.verdict.tenant, ())
        if takes(endpoint.events, record.names)
    ]
    if not wanted:
        return 0
    keys = {(e.id, r.id) for e, r in wanted}
    found = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.record_id).where(
            WebhookDelivery.event_type == RULE,
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
    for endpoint, record in wanted:
        key = (endpoint.id, record.id)
        if key in known:
            continue
        known.add(key)  # the same record twice in one batch is one delivery
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, tenant=record.verdict.tenant, event_type=RULE,
                record_id=record.id, body=record.body(record.verdict.tenant in private),
            )
        )  # fmt: skip
        added += 1
    return added
