"""Review queues on a real accounts store (SQLite in a temporary directory): routing, priority,
claims under concurrency, leases, appeals' second reviewer; strikes taken back; statements of
reasons against the transcribed schema; webhook retries, dead letters and the SSRF guard."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.review import automated, claims, decisions, items, queues, webhooks
from api.review.agreement import Pair, agreement
from api.review.decisions import AppealIn, DecisionIn
from api.review.dsa import statement
from api.review.items import Subject
from api.review.queues import QueueConfig
from api.routes.webhooks import WebhookIn
from infra.accounts import AccountsDB
from infra.accounts.review import WebhookDelivery
from infra.errors import AccountsError, Conflict, Forbidden, InvalidInput
from infra.settings import ReviewSettings
from schemas.dsa import BATCH_SCHEMA, STATEMENT_SCHEMA
from schemas.moderation import ActionKind, Origin
from schemas.records import Verdict
from streams.strikes import StrikeState, apply_action, apply_verdict
from tests.support.webhook_receiver import WebhookReceiver

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def subject(n: int, *, toxic: float = 0.5, lang: str = "en", author: str = "a1") -> Subject:
    return Subject(
        tenant="t1", event_id=f"e{n}", item_id=str(n), author=author, source="comments",
        kind="post", occurred_at=NOW, lang=lang, scores={"toxic": toxic, "insult": toxic},
        toxic=toxic, model_decision="review",
    )  # fmt: skip


def enqueue(
    session: Session, n: int, *, toxic: float = 0.5, lang: str = "en", strikes: int = 0
) -> int:
    entry = items.enqueue(
        session, subject(n, toxic=toxic, lang=lang), strikes=strikes, now=NOW,
        origin=Origin.VERDICT,
    )  # fmt: skip
    return entry.id


def test_routing_takes_the_first_matching_queue_and_default_keeps_the_rest(db: AccountsDB) -> None:
    with db.session() as s:
        queues.put(s, "t1", "arabic", QueueConfig(langs=["ar"], position=1), NOW)
        queues.put(s, "t1", "insults", QueueConfig(labels=["insult"], position=2), NOW)
    with db.session() as s:
        enqueue(s, 1, lang="ar")
        enqueue(s, 2, lang="en", toxic=0.7)
        enqueue(s, 3, lang="en", toxic=0.1)
    with db.session() as s:
        placed = {i.event_id: i.queue for q in ("arabic", "insults", "default")
                  for i in items.page(s, "t1", q, 10, None)[0]}  # fmt: skip
    assert placed == {"e1": "arabic", "e2": "insults", "e3": "default"}


def test_priority_puts_scores_strikes_and_reports_before_age(db: AccountsDB) -> None:
    with db.session() as s:
        enqueue(s, 1, toxic=0.1)
        enqueue(s, 2, toxic=0.9)
        enqueue(s, 3, toxic=0.1, strikes=3)
        items.report(s, subject(4, toxic=0.1), reporter="r", category="spam", text="", strikes=0,
                     now=NOW + timedelta(hours=1))  # fmt: skip
        first, following = items.page(s, "t1", "default", 2, None)
        rest, end = items.page(s, "t1", "default", 2, following)
    assert [i.event_id for i in first + rest] == ["e2", "e3", "e4", "e1"]
    assert end is None


def test_reports_of_one_item_are_one_entry_with_a_count(db: AccountsDB) -> None:
    with db.session() as s:
        enqueue(s, 1)
        for reporter in ("r1", "r2", "r2"):
            entry, _ = items.report(s, subject(1), reporter=reporter, category="harassment",
                                    text="", strikes=0, now=NOW)  # fmt: skip
        assert (entry.reports, entry.report_categories) == (2, "harassment")
        assert items.reporters(s, "t1", "e1") == ["r1", "r2"]


def test_twenty_concurrent_reviewers_never_get_the_same_item(db: AccountsDB) -> None:
    with db.session() as s:
        for n in range(300):
            enqueue(s, n, toxic=(n % 97) / 100)
    got: dict[str, list[str]] = {}

    def review(name: str) -> None:
        mine = got.setdefault(name, [])
        while True:
            with db.session() as s:
                item = claims.claim_next(s, "t1", "default", name, 600, NOW)
                if item is None:
                    return
                mine.append(item.event_id)

    threads = [threading.Thread(target=review, args=(f"user:{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [e for ids in got.values() for e in ids]
    assert len(claimed) == 300
    assert len(set(claimed)) == 300


def test_no_claimer_runs_more_than_one_batch(
    db: AccountsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader hands the claims queued during its batch to the first of them: under steady
    claiming, no request is kept running the others' claims."""
    with db.session() as s:
        for n in range(400):
            enqueue(s, n)
    mine = threading.local()
    runs: dict[tuple[str, int], int] = {}
    run = claims._run

    def counted(store: Any, batch: Any) -> None:
        key = (mine.name, mine.call)  # not the thread's ident: a finished thread's is reused
        runs[key] = runs.get(key, 0) + 1
        run(store, batch)

    monkeypatch.setattr(claims, "_run", counted)

    def review(name: str) -> None:
        mine.name = name
        for call in range(20):
            mine.call = call
            with db.session() as s:
                assert claims.claim_next(s, "t1", "default", name, 600, NOW) is not None

    threads = [threading.Thread(target=review, args=(f"user:{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert max(runs.values()) == 1
    assert sum(runs.values()) < 400  # and claims asked for together still shared a batch


def test_claims_at_once_in_two_stores_stay_in_their_own(db: AccountsDB, tmp_path: Path) -> None:
    other = AccountsDB(f"sqlite:///{tmp_path / 'other.db'}")
    other.create_schema()
    for first, store in ((0, db), (100, other)):
        with store.session() as s:
            for n in range(first, first + 40):
                enqueue(s, n)
    got: dict[int, list[str]] = {id(db): [], id(other): []}

    def review(store: AccountsDB, name: str) -> None:
        for _ in range(4):
            with store.session() as s:
                item = claims.claim_next(s, "t1", "default", name, 600, NOW)
                assert item is not None
                got[id(store)].append(item.event_id)

    threads = [threading.Thread(target=review, args=(store, f"user:{i}"))
               for i in range(10) for store in (db, other)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert set(got[id(db)]) == {f"e{n}" for n in range(40)}
    assert set(got[id(other)]) == {f"e{n}" for n in range(100, 140)}


def test_a_failed_batch_of_claims_fails_each_claimer_and_the_next_claims_run(
    db: AccountsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as s:
        enqueue(s, 1)
    broken = dict(claims._CLAIMS) | {True: text("SELECT * FROM no_such_table")}
    monkeypatch.setattr(claims, "_CLAIMS", broken)
    failed: list[BaseException] = []

    def review(name: str) -> None:
        try:
            with db.session() as s:
                claims.claim_next(s, "t1", "default", name, 600, NOW)
        except AccountsError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=review, args=(f"user:{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(failed) == 8  # every claimer was told, none left waiting
    monkeypatch.undo()
    with db.session() as s:  # the store is not left without a thread to run its claims
        item = claims.claim_next(s, "t1", "default", "user:a", 600, NOW)
        assert item is not None
        assert item.event_id == "e1"


def test_an_expired_lease_returns_the_item_and_release_gives_it_back(db: AccountsDB) -> None:
    with db.session() as s:
        ident = enqueue(s, 1)
        assert claims.claim_next(s, "t1", "default", "user:a", 60, NOW) is not None
        assert claims.claim_next(s, "t1", "default", "user:b", 60, NOW) is None
        later = NOW + timedelta(seconds=61)
        assert claims.claim_next(s, "t1", "default", "user:b", 60, later) is not None
        with pytest.raises(Conflict):
            items.holding(s, "t1", ident, "user:a", later)
        items.release(s, "t1", ident, "user:b", later)
        assert claims.claim(s, "t1", ident, "user:c", 60, later).claimed_by == "user:c"


def test_a_claim_takes_expired_and_never_held_entries_in_priority_order(db: AccountsDB) -> None:
    with db.session() as s:
        urgent, middle, low = enqueue(s, 1, toxic=0.9), enqueue(s, 2, toxic=0.5), enqueue(s, 3)
        claims.claim(s, "t1", middle, "user:a", 60, NOW)
        claims.claim(s, "t1", urgent, "user:a", 60, NOW)
        later = NOW + timedelta(seconds=61)  # both leases expired; the third never held
        order = [claims.claim_next(s, "t1", "default", "user:b", 60, later) for _ in range(4)]
        assert [i.id if i else None for i in order] == [urgent, middle, low, None]
        # An entry this session loaded before the claim is not left out of date.
        assert items.get(s, "t1", low).claimed_by == "user:b"


def _decide(s: Session, ident: int, who: str, action: str, reason: str) -> decisions.Outcome:
    row = items.holding(s, "t1", ident, who, NOW)
    body = DecisionIn(action=ActionKind(action), reason=reason)
    return decisions.decide(s, row, body, reviewer=who, reporters=[], appeal_window=3600, now=NOW)


def test_an_appeal_goes_to_another_reviewer_within_the_window(db: AccountsDB) -> None:
    with db.session() as s:
        ident = enqueue(s, 1)
        claims.claim(s, "t1", ident, "user:a", 600, NOW)
        with pytest.raises(InvalidInput):
            _decide(s, ident, "user:a", "remove", "not_a_reason")
        with pytest.raises(Conflict):  # the entry is not an appeal: its state rules it out
            _decide(s, ident, "user:a", "overturn", "harassment")
        removed = _decide(s, ident, "user:a", "remove", "harassment")
        assert [n.recipient_id for n in removed.notices] == ["a1"]
        body = AppealIn(action_id=removed.action.action_id, author="a1")
        late = NOW + timedelta(seconds=3601)
        with pytest.raises(Forbidden):
            decisions.appeal(s, "t1", body, appeal_window=3600, now=late)
        entry = decisions.appeal(s, "t1", body, appeal_window=3600, now=NOW)
        with pytest.raises(Conflict):
            decisions.appeal(s, "t1", body, appeal_window=3600, now=NOW)
        assert claims.claim_next(s, "t1", "appeals", "user:a", 600, NOW) is None
        with pytest.raises(Forbidden):
            claims.claim(s, "t1", entry.id, "user:a", 600, NOW)
        assert claims.claim_next(s, "t1", "appeals", "user:b", 600, NOW) is not None
        overturned = _decide(s, entry.id, "user:b", "overturn", "no_violation")
    assert overturned.action.appeal_of == removed.action.action_id
    assert overturned.action.effect == "visible"


def _verdict(event_id: str, decision: str) -> Verdict:
    return Verdict.model_validate(
        {"event_id": event_id, "tenant": "t1", "source": "comments", "kind": "post",
         "item_id": event_id, "author": "a1", "occurred_at": NOW, "judged_at": NOW,
         "decision": decision, "toxic": 0.9, "lang": "en", "model_version": "m",
         "policy_version": "p", "latency_ms": 1.0}
    )  # fmt: skip


def test_a_removal_is_a_strike_and_an_overturn_takes_it_back_for_good(db: AccountsDB) -> None:
    with db.session() as s:
        ident = enqueue(s, 1)
        claims.claim(s, "t1", ident, "user:a", 600, NOW)
        removed = _decide(s, ident, "user:a", "remove", "insult").action
    limits: dict[str, Any] = {"limit": 3, "window": 86_400, "now": NOW}
    after = apply_action(StrikeState(), removed, **limits)
    assert after.strike is not None
    assert not after.strike.revoked
    again = apply_action(after.state, removed, **limits)  # a replay counts nothing
    assert again.strike is None
    assert len(again.state.strikes) == 1
    restored = removed.model_copy(update={"action": ActionKind.OVERTURN, "effect": "visible"})
    back = apply_action(again.state, restored, **limits)
    assert back.strike is not None
    assert back.strike.revoked
    assert back.state.strikes == {}
    # The model's rejection of the same item, read again, does not count it anew.
    assert apply_verdict(back.state, _verdict("e1", "reject"), **limits).strike is None
    assert apply_verdict(back.state, _verdict("e2", "reject"), **limits).strike is not None


def _statement(origin: str, reason: str, action: str = "remove") -> dict[str, object]:
    row = {
        "action_id": "act_1", "event_id": "e1", "item_id": "1", "kind": "post",
        "occurred_at": NOW, "action": action, "reason": reason,
        "dsa_category": "STATEMENT_CATEGORY_VIOLENCE", "note": "", "decided_at": NOW,
        "origin": origin, "model_decision": "review", "reports": int(origin == "report"),
    }  # fmt: skip
    return statement("t1", row)


@pytest.mark.parametrize(
    ("origin", "reason", "action"),
    [("report", "threat", "remove"), ("verdict", "insult", "remove"), ("verdict", "spam", "label")],
)
def test_statements_validate_against_the_transcribed_schema(
    origin: str, reason: str, action: str
) -> None:
    doc = _statement(origin, reason, action)
    assert list(jsonschema_rs.validator_for(STATEMENT_SCHEMA).iter_errors(doc)) == []
    assert jsonschema_rs.validator_for(BATCH_SCHEMA).is_valid({"statements": [doc]})


@pytest.mark.parametrize(
    ("mode", "kind", "reason", "visibility"),
    [
        ("withhold", "chat_message", "threat", "DECISION_VISIBILITY_CONTENT_REMOVED"),
        ("mask", "post", "insult", "DECISION_VISIBILITY_OTHER"),
        ("flag", "media", "sexual", "DECISION_VISIBILITY_CONTENT_LABELLED"),
    ],
)
def test_the_models_rejections_are_fully_automated_statements(
    mode: Any, kind: str, reason: str, visibility: str
) -> None:
    row = {"event_id": "e9", "item_id": "9", "kind": kind, "occurred_at": NOW,
           "judged_at": NOW, "toxic": 0.93, "reason": reason}  # fmt: skip
    doc = automated.statement("t1", row, mode)
    assert list(jsonschema_rs.validator_for(STATEMENT_SCHEMA).iter_errors(doc)) == []
    assert (doc["automated_detection"], doc["automated_decision"], doc["source_type"]) == (
        "Yes", "AUTOMATED_DECISION_FULLY", "SOURCE_VOLUNTARY",
    )  # fmt: skip
    assert (doc["decision_visibility"], doc["puid"]) == ([visibility], "t1:verdict:e9")
    assert "automatically" in doc["decision_facts"]


def test_the_schema_refuses_what_the_database_refuses() -> None:
    doc = _statement("report", "threat")
    validator = jsonschema_rs.validator_for(STATEMENT_SCHEMA)
    assert not validator.is_valid(doc | {"category": "STATEMENT_CATEGORY_MADE_UP"})
    assert not validator.is_valid(doc | {"automated_detection": True})
    no_explanation = {k: v for k, v in doc.items() if k != "illegal_content_explanation"}
    assert not validator.is_valid(no_explanation)
    no_decision = {k: v for k, v in doc.items() if k != "decision_visibility"}
    assert not validator.is_valid(no_decision)
    assert not jsonschema_rs.validator_for(BATCH_SCHEMA).is_valid({"statements": [doc] * 101})


def _deliver(db: AccountsDB, url: str, settings: ReviewSettings) -> WebhookDelivery:
    box = webhooks.cipher(SecretStr("k" * 40))
    with db.session() as s:
        webhooks.create(s, "t1", url, ["action"], box)
        webhooks.enqueue(s, "t1", "action", "act_1", {"action_id": "act_1"})

    async def run() -> None:
        deliverer = webhooks.Deliverer(db, settings, box)
        task = asyncio.create_task(deliverer.run(interval=0.01))
        async with asyncio.timeout(30):
            while not _settled(db):
                await asyncio.sleep(0.02)
        deliverer.stop()
        await task
        await deliverer.aclose()

    asyncio.run(run())
    with db.session() as s:
        return s.query(WebhookDelivery).one()


def _settled(db: AccountsDB) -> bool:
    with db.session() as s:
        return s.query(WebhookDelivery).filter_by(state="pending").count() == 0


def test_a_failing_receiver_is_retried_then_dead_lettered(db: AccountsDB) -> None:
    settings = ReviewSettings(
        webhook_attempts=3, webhook_backoff=0.01, webhook_allowed_networks=["127.0.0.1/32"]
    )
    with WebhookReceiver(fail_first=100) as receiver:
        row = _deliver(db, receiver.url, settings)
    assert (row.state, row.attempts, row.last_status, receiver.requests) == ("dead", 3, 500, 3)


def test_a_receiver_that_recovers_gets_the_delivery_signed(db: AccountsDB) -> None:
    settings = ReviewSettings(
        webhook_attempts=5, webhook_backoff=0.01, webhook_allowed_networks=["127.0.0.1/32"]
    )
    with WebhookReceiver(fail_first=2) as receiver:
        row = _deliver(db, receiver.url, settings)
    assert (row.state, row.attempts) == ("delivered", 3)
    assert [d.body["id"] for d in receiver.deliveries] == ["act_1"]


def test_webhooks_to_private_addresses_are_refused_like_media_fetches(db: AccountsDB) -> None:
    settings = ReviewSettings(webhook_attempts=2, webhook_backoff=0.01)
    with WebhookReceiver() as receiver:
        row = _deliver(db, receiver.url, settings)
        assert receiver.requests == 0
    assert row.state == "dead"
    assert row.last_error.startswith("refused_address")


def test_signatures_verify_only_with_the_secret_and_a_recent_time() -> None:
    header = webhooks.sign("s3cret", 1_000, b'{"a":1}')
    assert webhooks.verify("s3cret", header, b'{"a":1}', now=1_010)
    assert not webhooks.verify("other", header, b'{"a":1}', now=1_010)
    assert not webhooks.verify("s3cret", header, b'{"a":2}', now=1_010)
    assert not webhooks.verify("s3cret", header, b'{"a":1}', now=2_000)


def test_agreement_gives_precision_recall_and_the_threshold_people_agree_with() -> None:
    pairs = [
        Pair(score=0.95, model_rejected=True, removed=True),
        Pair(score=0.85, model_rejected=True, removed=False),
        Pair(score=0.62, model_rejected=False, removed=True),
        Pair(score=0.30, model_rejected=False, removed=False),
    ]
    found = agreement("toxic", pairs)
    assert (found.decisions, found.removed) == (4, 2)
    assert (found.current.precision, found.current.recall) == (0.5, 0.5)
    assert found.best_threshold == 0.6  # 0.95 and 0.62 in, 0.85 the one miss: F1 0.8
    assert found.best is not None
    assert found.best.f1 == pytest.approx(0.8)


def test_queue_summaries_count_open_claimed_and_sla_breaches(db: AccountsDB) -> None:
    with db.session() as s:
        queues.put(s, "t1", "arabic", QueueConfig(langs=["ar"], sla_seconds=60), NOW)
        items.enqueue(s, subject(1), strikes=0, now=NOW - timedelta(days=2), origin=Origin.VERDICT)
        items.enqueue(s, subject(2), strikes=0, now=NOW, origin=Origin.VERDICT)
        items.enqueue(s, subject(3, lang="ar"), strikes=0, now=NOW, origin=Origin.VERDICT)
        claims.claim_next(s, "t1", "default", "user:a", 600, NOW)
    with db.session() as s:
        found = {q.name: q for q in items.summaries(s, "t1", 86_400, NOW + timedelta(minutes=5))}
    assert (found["default"].open, found["default"].claimed, found["default"].breaches) == (2, 1, 1)
    assert (found["arabic"].open, found["arabic"].breaches, found["arabic"].sla_seconds) == (
        1,
        1,
        60,
    )


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"sla_seconds": 3600, "position": 3}, True),
        ({"sla_seconds": 3600.0, "position": 3.0}, True),  # JSON Schema's integers
        ({"sla_seconds": False}, False),
        ({"sla_seconds": "3600"}, False),
        ({"position": 2.5}, False),
        ({"sla_seconds": 59.0}, False),
    ],
)
def test_queue_numbers_are_integers_as_the_schema_says(body: dict[str, Any], ok: bool) -> None:
    schema = jsonschema_rs.validator_for(QueueConfig.model_json_schema())
    assert schema.is_valid(body) is ok
    try:
        QueueConfig.model_validate(body)
    except ValueError:
        assert not ok
    else:
        assert ok


def test_the_schema_states_that_verdict_decisions_need_the_verdict_event() -> None:
    schema = jsonschema_rs.validator_for(WebhookIn.model_json_schema())
    url = "https://app.example.com/hooks"
    assert schema.is_valid({"url": url, "events": ["verdict"], "verdict_decisions": ["reject"]})
    assert schema.is_valid({"url": url, "events": ["action"], "verdict_decisions": []})
    assert not schema.is_valid({"url": url, "events": ["action"], "verdict_decisions": ["reject"]})
    assert not schema.is_valid({"url": url, "verdict_decisions": ["review"]})  # default events
    with pytest.raises(InvalidInput):
        webhooks.stored_events(["action"], ["reject"])
