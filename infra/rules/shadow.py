"""The `rules.shadow` records of a judged verdict: what its shadow rules would have done.

Here rather than beside the engine because two publishers make them: the worker, for what it
judges, and the API, for what `POST /v1/moderate` and the compatible routes judge.
"""

from __future__ import annotations

from infra.rules.compile import severest
from schemas.records import Decision, Verdict
from schemas.rules import ShadowRecord


def shadow_records(verdict: Verdict) -> list[ShadowRecord]:
    """What the verdict's shadow rules would have done, one record per rule."""
    outcome = verdict.rules
    if outcome is None or not outcome.shadow:
        return []
    rules = outcome.fired + outcome.shadow
    named = [a.value for r in rules for a in r.actions if a.kind == "decision"]
    shadow_decision = Decision(severest(named) or outcome.policy_decision.value)
    return [
        ShadowRecord(
            tenant=verdict.tenant,
            event_id=verdict.event_id,
            author=verdict.author,
            rule=r.rule,
            version=r.version,
            ruleset_version=outcome.ruleset_version,
            actions=r.actions,
            live_decision=verdict.decision,
            shadow_decision=shadow_decision,
            judged_at=verdict.judged_at,
        )
        for r in outcome.shadow
    ]
