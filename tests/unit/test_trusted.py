"""Records built without pydantic's bookkeeping are the records pydantic builds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.records import Decision, FiredRule, RuleAction, RulesOutcome, Verdict
from schemas.trusted import construct, replace

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _verdict() -> Verdict:
    return Verdict(
        event_id="e1", tenant="t", source="chat", kind="post", item_id="i1", author="ann",
        occurred_at=AT, judged_at=AT, decision=Decision.APPROVE, toxic=0.1,
        scores={"toxic": 0.1}, lang="en", spans=[], model_version="m", policy_version="p",
        latency_ms=1.0,
    )  # fmt: skip


def test_construct_and_replace_give_what_pydantic_gives() -> None:
    fired = [FiredRule(rule="r", version="v", actions=[RuleAction(kind="label", value="x")])]
    values: dict[str, Any] = {
        "ruleset_version": 3, "policy_decision": Decision.APPROVE, "fired": fired, "shadow": [],
        "labels": ["x"], "counters": {"posts": 2},
    }  # fmt: skip
    ours = construct(RulesOutcome, **values)
    theirs = RulesOutcome.model_construct(**values)
    assert ours == theirs
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours.model_dump_json() == theirs.model_dump_json()
    assert RulesOutcome.model_validate_json(ours.model_dump_json()) == theirs

    verdict = _verdict()
    copied = replace(verdict, decision=Decision.REJECT, rules=ours)
    expected = verdict.model_copy(update={"decision": Decision.REJECT, "rules": theirs})
    assert copied == expected
    assert copied.model_fields_set == expected.model_fields_set
    assert copied.model_dump_json(exclude_unset=True) == expected.model_dump_json(
        exclude_unset=True
    )
    assert verdict.decision is Decision.APPROVE  # the original stays as it was
    assert verdict.rules is None
    assert Verdict.model_validate_json(copied.model_dump_json()) == expected
