"""Strikes: the counting logic without Kafka, then the strikes worker on the real broker, killed
with SIGKILL and restarted, blocking the sixth offence."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from infra.settings import Settings
from schemas.events import Kind
from schemas.records import Decision, Verdict
from schemas.strikes import BlockAction, BlockChange
from streams.strikes import StrikeState, apply_block_change, apply_verdict
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.stack import Worker

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TOXIC = "You are a pathetic idiot, shut up you stupid loser"


def verdict(event_id: str, at: datetime, decision: Decision = Decision.REJECT) -> Verdict:
    return Verdict(
        event_id=event_id, tenant="t", source="chat", kind=Kind.CHAT_MESSAGE, item_id=event_id,
        author="a", occurred_at=at, judged_at=at, decision=decision, toxic=0.9, lang="en",
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
    assert apply_verdict(after, later, limit=5, window=3600, now=T0).strike.strikes == 1


def test_the_state_round_trips_through_json() -> None:
    state = StrikeState({"e1": 1.5}, 2.0, True)
    assert StrikeState.load(state.dump()) == state
    assert StrikeState.load({}) == StrikeState() == StrikeState.load(None)


def _report(api: TestClient, author: str) -> dict[str, Any]:
    response = api.get(f"/v1/authors/{author}/strikes")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_strikes_survive_a_sigkill_and_block_the_sixth_offence(
    api: TestClient, worker: Worker, settings: Settings, model_dir: Path, tmp_path: Path
) -> None:
    strikes = Worker(settings, model_dir, tmp_path / "strikes.log", command="strikes").start()
    author = f"striker-{uuid.uuid4().hex[:8]}"
    try:
        # Four offences in one request: their table updates leave back to back.
        first = [post_event(f"{author}-{i}", TOXIC, author=author) for i in range(4)]
        assert api.post("/v1/events", json=first).status_code == 202
        wait_for(lambda: _report(api, author)["strikes"] == 4, 120, what="four strikes")
        time.sleep(3)  # past the commit interval: the restart must recover, not re-read
        strikes.kill()
        strikes.start()
        fifth = post_event(f"{author}-4", TOXIC, author=author)
        assert api.post("/v1/events", json=fifth).status_code == 202
        wait_for(
            lambda: not api.get(f"/v1/authors/{author}/can-chat").json()["can_chat"], 120,
            what="the block after the fifth strike",
        )  # fmt: skip
        report = _report(api, author)
        assert report["blocked"]
        assert report["block"]["action"] == "block"
        assert report["block"]["strikes"] == 5
        assert report["block"]["actor"] == "strikes"
        wait_for(lambda: _report(api, author)["strikes"] == 5, 30, what="five strikes stored")
        # The sixth offence is refused before it is published; others still pass.
        sixth = post_event(f"{author}-5", TOXIC, author=author)
        response = api.post("/v1/events", json=[post_event(f"{author}-ok", "hi"), sixth])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "author_blocked"
        assert response.json()["error"]["details"] == [
            {"index": 1, "event_id": f"{author}-5", "author": author}
        ]
        # A moderator lifts the block; the strikes before it are forgiven.
        lifted = api.post(f"/v1/authors/{author}/unblock", json={"reason": "appeal accepted"})
        assert lifted.status_code == 200
        assert lifted.json()["can_chat"]
        # Items sent before the unblock are forgiven (the refused one never was published);
        # the next offence is a first strike again.
        again = post_event(f"{author}-6", TOXIC, author=author)
        assert api.post("/v1/events", json=again).status_code == 202
        wait_for(lambda: _report(api, author)["strikes"] == 1, 60, what="a fresh strike")
        assert not _report(api, author)["blocked"]
        audit = api.get("/v1/audit", params={"action": "author.unblock"}).json()
        assert any(e["target"] == f"author:{author}" for e in audit)
    finally:
        strikes.stop()


def test_unblocking_needs_the_moderate_scope(api: TestClient) -> None:
    from tests.support.accounts import as_tenant

    reader = as_tenant(api, "demo", ("read",))
    assert api.post("/v1/authors/x/unblock", headers=reader).status_code == 403
    assert api.get("/v1/authors/x/can-chat", headers=reader).json()["can_chat"] is True
