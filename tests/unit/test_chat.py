"""Chat delivery without the gateway: toxic spans become asterisks, spaces stay; a live rule's
hold sets when an item may first be shown (the gateway holding messages on the real broker:
tests/integration/test_chat.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.delivery import mask, visible_after
from schemas.records import FiredRule, RuleAction, RulesOutcome, Verdict

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def held(live: tuple[str, ...], shadow: tuple[str, ...] = ()) -> Verdict:
    """A verdict judged at T0 whose live (and shadow) rules fired holds of these seconds."""

    def fired(holds: tuple[str, ...]) -> list[FiredRule]:
        return [
            FiredRule(rule=f"r{i}", version="v", actions=[RuleAction(kind="hold", value=h)])
            for i, h in enumerate(holds)
        ]

    return Verdict(
        event_id="e", tenant="t", source="chat", kind="chat_message", item_id="e", author="a",
        occurred_at=T0, judged_at=T0, decision="approve", toxic=0.1, lang="en",
        model_version="m", policy_version="p", latency_ms=1.0,
        rules=RulesOutcome(ruleset_version=1, policy_decision="approve", fired=fired(live),
                           shadow=fired(shadow)),
    )  # fmt: skip


def test_the_longest_live_hold_counts_from_the_verdict_and_shadow_holds_none() -> None:
    assert visible_after(held(("900", "0.5"))) == T0 + timedelta(seconds=900)
    assert visible_after(held((), shadow=("900",))) is None
    assert visible_after(held(())) is None


def test_mask_replaces_span_characters_but_keeps_spaces() -> None:
    assert mask("you stupid idiot", [(4, 16)]) == "you ****** *****"
    assert mask("bad", []) == "***"
