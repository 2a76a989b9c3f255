"""Strikes: the counting logic without Kafka (the strikes worker on the real broker, killed with
SIGKILL and restarted, blocking the sixth offence: tests/integration/test_strikes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import Kind
from schemas.records import Decision, FiredRule, RuleAction, RulesOutcome, Verdict
from schemas.strikes import BlockAction, BlockChange
from streams.strikes import StrikeState, apply_block_change, apply_verdict

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def verdict(
    event_id: str, at: datetime, decision: Decision = Decision.REJECT, author: str = "a"
) -> Verdict:
    return Verdict(
        event_id=event_id, tenant="t", source="chat", kind=Kind.CHAT_MESSAGE, item_id=event_id,
        author=author, occurred_at=at, judged_at=at, decision=decision, toxic=0.9, lang="en",
        model_version="m", policy_version="p", latency_ms=1.0,
    )  # fmt: skip


def run(verdicts: list[Verdict], state: StrikeState | None = None, **kw: Any) -> list[Any]:
    state = state or StrikeState()
    outcomes = []
    for v in verdicts:
        outcome = apply_verdict(
            state, v, limit=kw.get("limit", 5), window=kw.get("window", 3600), now=T0
        )
        state = outcome.state
        outcomes.append(outcome)
    return outcomes


def test_the_fifth_strike_blocks_and_replays_count_once() -> None:
    vs = [verdict(f"e{i}", T0 + timedelta(seconds=i)) for i in range(5)]
    outcomes = run([vs[0], vs[1], vs[1], vs[2], vs[0], vs[3], vs[4]])  # e0, e1 replayed
    assert [o.strike.strikes if o.strike else None for o in outcomes] == [
        1, 2, None, 3, None, 4, 5,
    ]  # fmt: skip
    assert [o.block is not None for o in outcomes] == [False] * 6 + [True]
    block = outcomes[-1].block
    assert block.change_id == "block:t:a:e4"
    assert block.strikes == 5
    # A replay of the blocking verdict publishes nothing new.
    again = apply_verdict(outcomes[-1].state, vs[4], limit=5, window=3600, now=T0)
    assert again.strike is None
    assert again.block is None
    assert again.state.blocked


def test_approved_and_reviewed_items_are_not_strikes() -> None:
    outcomes = run([verdict("ok", T0, Decision.APPROVE), verdict("rv", T0, Decision.REVIEW)])
    assert all(o.strike is None and o.block is None for o in outcomes)
    assert outcomes[-1].state.strikes == {}


def test_items_without_a_named_author_are_not_strikes() -> None:
    outcomes = run([verdict(f"e{i}", T0, author="anonymous") for i in range(6)])
    assert all(o.strike is None and o.block is None for o in outcomes)
    assert outcomes[-1].state.strikes == {}


def test_strikes_older_than_the_window_of_item_time_drop_out() -> None:
    vs = [verdict(f"e{i}", T0 + timedelta(minutes=20 * i)) for i in range(6)]
    outcomes = run(vs, window=3600)  # an hour: at most three fit (0, 20, 40 minutes apart)
    assert [o.strike.strikes for o in outcomes if o.strike] == [1, 2, 3, 3, 3, 3]
    assert not outcomes[-1].state.blocked


def test_an_unblock_forgives_earlier_items_whatever_the_order() -> None:
    vs = [verdict(f"e{i}", T0 + timedelta(seconds=i)) for i in range(5)]
    unblock = BlockChange(
        change_id="u1", tenant="t", author="a", action=BlockAction.UNBLOCK,
        at=T0 + timedelta(seconds=10), actor="user:mod@example.com",
    )  # fmt: skip
    blocked = run(vs)[-1].state
    assert blocked.blocked
    # Unblock after the verdicts were counted …
    after = apply_block_change(blocked, unblock)
    # … or before they were read (a replay after a crash): the same state.
    before = run(vs, apply_block_change(StrikeState(), unblock))[-1].state
    assert after == before == StrikeState({}, unblock.at.timestamp(), blocked=False)
    later = verdict("late", T0 + timedelta(seconds=11))
    strike = apply_verdict(after, later, limit=5, window=3600, now=T0).strike
    assert strike is not None
    assert strike.strikes == 1


def test_the_state_round_trips_through_json() -> None:
    state = StrikeState({"e1": 1.5}, 2.0, True)
    assert StrikeState.load(state.dump()) == state
    assert StrikeState.load({}) == StrikeState() == StrikeState.load(None)


def ruled(v: Verdict, live: tuple[str, ...] = (), shadow: tuple[str, ...] = ()) -> Verdict:
    """`v` with live and shadow rules that fired `block_author` (the names given)."""

    def fired(names: tuple[str, ...]) -> list[FiredRule]:
        block = RuleAction(kind="block_author")
        return [FiredRule(rule=name, version="9c1f0a7b2e", actions=[block]) for name in names]

    rules = RulesOutcome(
        ruleset_version=3, policy_decision=v.decision, fired=fired(live), shadow=fired(shadow)
    )
    return v.model_copy(update={"rules": rules})


def test_a_live_block_author_blocks_at_once_naming_the_rule() -> None:
    v = ruled(verdict("e1", T0, Decision.APPROVE), live=("ban_words",))
    outcome = apply_verdict(StrikeState(), v, limit=5, window=3600, now=T0)
    assert outcome.strike is None  # not rejected: no strike, but blocked all the same
    assert outcome.block is not None
    assert outcome.block.change_id == "block:t:a:e1"
    assert outcome.block.action == BlockAction.BLOCK
    assert outcome.block.actor == "strikes"
    assert outcome.block.reason == "rule 'ban_words' (version 9c1f0a7b2e): block_author"
    assert outcome.state.blocked
    # Delivered again: nothing new.
    again = apply_verdict(outcome.state, v, limit=5, window=3600, now=T0)
    assert again.block is None
    assert again.strike is None
    assert again.state == outcome.state


def test_a_rejected_block_author_verdict_is_also_a_strike() -> None:
    v = ruled(verdict("e1", T0), live=("ban_words",))
    outcome = apply_verdict(StrikeState(), v, limit=5, window=3600, now=T0)
    assert outcome.strike is not None
    assert outcome.strike.strikes == 1
    assert outcome.block is not None
    assert outcome.block.strikes == 1
    assert "ban_words" in outcome.block.reason


def test_shadow_block_author_and_anonymous_authors_block_nobody() -> None:
    shadow = ruled(verdict("e1", T0, Decision.APPROVE), shadow=("maybe",))
    anonymous = ruled(verdict("e2", T0, author="anonymous"), live=("ban_words",))
    for v in (shadow, anonymous):
        outcome = apply_verdict(StrikeState(), v, limit=5, window=3600, now=T0)
        assert outcome.block is None
        assert not outcome.state.blocked


def test_an_unblock_forgives_a_rule_block_of_an_earlier_item() -> None:
    v = ruled(verdict("e1", T0, Decision.APPROVE), live=("ban_words",))
    blocked = apply_verdict(StrikeState(), v, limit=5, window=3600, now=T0).state
    unblock = BlockChange(
        change_id="u1", tenant="t", author="a", action=BlockAction.UNBLOCK,
        at=T0 + timedelta(seconds=10), actor="user:mod@example.com",
    )  # fmt: skip
    lifted = apply_block_change(blocked, unblock)
    # The verdict read again after the unblock (a replay) does not block anew …
    assert apply_verdict(lifted, v, limit=5, window=3600, now=T0).block is None
    # … but a later item that fires the rule does.
    later = ruled(verdict("e2", T0 + timedelta(seconds=11), Decision.APPROVE), live=("b",))
    assert apply_verdict(lifted, later, limit=5, window=3600, now=T0).block is not None
