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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from api.review import deliveries, verdict_hooks
from api.review.deliveries import Outgoing
from api.review.webhooks import RULE
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
    return deliveries.enqueue(
        session,
        RULE,
        [
            Outgoing(r.verdict.tenant, r.id, r.body, partial(takes, names=r.names))
            for r in records_of(verdicts)
        ],
    )
