"""Rules in the text pipeline, without a broker: decisions, labels and recorded actions, shadow
rules, counters that survive a restart and never count a redelivered event twice, and rule sets
re-read while running (against the broker and a SIGKILL: tests/integration/test_rules.py)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.errors import AccountsError
from infra.rules.compile import RuleSet, compile_rules
from infra.rules.shadow import shadow_records
from schemas.records import Decision, Verdict
from schemas.topics import RULES_SHADOW
from streams.pipeline import RawRecord, TextPipeline
from streams.pipeline_process import outgoing
from streams.policy import PolicyBook
from streams.rules.counters import CounterStore
from streams.rules.engine import RuleEngine
from streams.rules.live import LiveRules
from tests.support.classifiers import Counting
from tests.support.events import as_json, post_event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

RULES = """
counter posts = count by author within 10m
counter links = count by url within 1h where url != ""

rule flood:
    when posts >= 3
    then reject, label "flood", queue "priority"

rule shared_link:
    when links >= 2 and author.items <= 1
    then review, webhook "links"

shadow rule any_insult:
    when toxic > 0.9
    then reject, block_author
"""


class Book:
    """One rule set for tenant `demo`."""

    def __init__(self, source: str, version: int = 1) -> None:
        self.rules = compile_rules(source, version)

    def for_tenant(self, tenant: str) -> RuleSet:
        return self.rules if tenant == "demo" else compile_rules("")

    def refresh(self) -> None:
        pass


def record(
    event_id: str, text: str, author: str = "ann", minutes: float = 0, offset: int = 0
) -> RawRecord:
    event = post_event(event_id, text, author=author)
    event["occurred_at"] = (T0 + timedelta(minutes=minutes)).isoformat()
    return RawRecord("events.text", 0, offset, f"demo:{author}".encode(), as_json(event))


def pipeline(path: Path | None, source: str = RULES) -> TextPipeline:
    """What a (re)started worker builds: its counters in the file at `path`."""
    engine = RuleEngine(Book(source), CounterStore(path))
    return TextPipeline(Counting(), PolicyBook(), cache_size=100, rules=engine)


def judge(worker: TextPipeline, *records: RawRecord) -> list[Verdict]:
    return worker.process(list(records)).verdicts


def test_live_rules_set_the_decision_and_record_their_actions() -> None:
    worker = pipeline(None)
    first, second, third = judge(
        worker, record("e1", "hello"), record("e2", "hi again", minutes=1),
        record("e3", "and again", minutes=2),
    )  # fmt: skip
    assert first.decision is Decision.APPROVE
    assert first.rules is not None
    assert (first.rules.fired, first.rules.counters) == ([], {"posts": 1, "links": 0})
    assert third.decision is Decision.REJECT
    assert third.rules is not None
    assert third.rules.policy_decision is Decision.APPROVE
    assert third.rules.ruleset_version == 1
    [flood] = third.rules.fired
    assert flood.rule == "flood"
    assert [(a.kind, a.value) for a in flood.actions] == [
        ("decision", "reject"), ("label", "flood"), ("queue", "priority"),
    ]  # fmt: skip
    assert third.rules.labels == ["flood"]
    assert second.rules is not None
    assert second.rules.counters["posts"] == 2


def test_a_counter_counts_in_event_time_within_its_window() -> None:
    worker = pipeline(None)
    verdicts = judge(
        worker, record("e1", "a", minutes=0), record("e2", "b", minutes=9),
        record("e3", "c", minutes=10), record("e4", "d", minutes=25),
    )  # fmt: skip
    assert [v.rules.counters["posts"] for v in verdicts if v.rules] == [1, 2, 2, 1]  # (t - 10m, t]
    # Late: an item from minute 5 counts the items in (minute -5, minute 5] it sees.
    [late] = judge(worker, record("e5", "late", minutes=5))
    assert late.rules is not None
    assert late.rules.counters["posts"] == 2


def test_counts_in_any_order_of_arrival_each_event_once_within_the_horizon() -> None:
    store = CounterStore(None, horizon_s=100.0)
    key = ("demo", "posts", "v1", "ann")
    assert store.observe(key, "e50", 50.0, 60.0) == (1, 50.0)
    assert store.observe(key, "e10", 10.0, 60.0) == (1, 10.0)  # late: (-50, 10]
    assert store.observe(key, "e30", 30.0, 60.0) == (2, 10.0)
    assert store.observe(key, "e30", 30.0, 60.0) == (2, 10.0)  # delivered again
    assert store.observe(key, "e55", 55.0, 60.0, count_it=False) == (3, 10.0)
    assert store.observe(key, "e60", 60.0, 30.0) == (2, 50.0)  # (30, 60]: e50 and e60
    # past the horizon, the oldest are forgotten: (120 - 100) cuts e10
    assert store.observe(key, "e120", 120.0, 1000.0) == (4, 30.0)
    other = ("demo", "author.harmful", "ann")
    assert store.observe_all([(key, 1000.0, True), (other, 1000.0, False)], "e121", 121.0) == [
        (5, 30.0),
        (0, None),
    ]


def test_a_redelivered_event_is_not_counted_twice_even_after_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "counters.sqlite3"
    first = pipeline(store)
    judge(first, record("e1", "one"), record("e2", "two", minutes=1))
    # The worker dies; its successor is handed e2 again (offset not committed), then e3.
    second = pipeline(store)
    again, e3 = judge(second, record("e2", "two", minutes=1), record("e3", "three", minutes=2))
    assert again.rules is not None
    assert again.rules.counters["posts"] == 2
    assert e3.rules is not None
    assert e3.rules.counters["posts"] == 3
    assert e3.decision is Decision.REJECT
    [e3_again] = judge(pipeline(store), record("e3", "three", minutes=2))
    assert e3_again == e3.model_copy(update={"judged_at": e3_again.judged_at,
                                             "latency_ms": e3_again.latency_ms})  # fmt: skip


def test_counters_are_stored_before_the_verdicts_leave(tmp_path: Path) -> None:
    store = tmp_path / "counters.sqlite3"
    worker = pipeline(store)
    judge(worker, record("e1", "one"))  # process() returns: the verdict may now be published
    [after] = judge(pipeline(store), record("e2", "two", minutes=1))  # a fresh worker
    assert after.rules is not None
    assert after.rules.counters["posts"] == 2


def test_a_read_through_store_sees_what_another_process_counted(tmp_path: Path) -> None:
    """The synchronous judge's store (`capacity=0`) beside the worker's, on one file."""
    path = tmp_path / "counters.sqlite3"
    now = time.time()  # the store prunes what is older than its horizon
    worker, judge_now = CounterStore(path), CounterStore(path, capacity=0)
    entity = ("t", "posts", "v1", "ann")
    assert worker.observe(entity, "e1", now, 3600.0) == (1, now)
    worker.flush()
    assert judge_now.observe(entity, "e2", now + 10, 3600.0) == (2, now)
    assert judge_now.observe(entity, "e2", now + 10, 3600.0) == (2, now)  # not flushed, still once
    judge_now.flush()
    assert CounterStore(path).observe(entity, "e3", now + 20, 3600.0) == (3, now)


def test_an_entity_evicted_before_the_flush_keeps_its_counts(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "counters.sqlite3", capacity=1)
    now = time.time()
    ann, bob = ("t", "posts", "v1", "ann"), ("t", "posts", "v1", "bob")
    store.observe(ann, "e1", now, 3600.0)
    store.observe(bob, "e2", now, 3600.0)  # ann leaves memory, its count not flushed yet
    assert store.observe(ann, "e3", now + 1, 3600.0) == (2, now)


def test_counters_by_a_key_and_the_authors_history() -> None:
    worker = pipeline(None)
    link = "see https://Spam.example/x."
    a, b, c = judge(
        worker, record("e1", link, author="ann"), record("e2", link, author="bob", minutes=1),
        record("e3", link, author="bob", minutes=2),
    )  # fmt: skip
    assert [v.rules.counters["links"] for v in (a, b, c) if v.rules] == [1, 2, 3]
    assert b.decision is Decision.REVIEW  # bob's first item, a link shared before
    assert b.rules is not None
    assert [r.rule for r in b.rules.fired] == ["shared_link"]
    assert c.decision is Decision.APPROVE  # bob has two items now


def test_a_counter_of_every_item_by_author_is_kept_with_the_authors_history(
    tmp_path: Path,
) -> None:
    """Such a counter counts the same events as `author.items`: one stored row per item serves
    both, and a new window reads what was counted under the old one."""
    path = tmp_path / "counters.sqlite3"
    rules = """
counter posts = count by author within 10m
rule r:
    when author.items > 100
    then review
"""
    judge(pipeline(path, rules), record("e1", "a"), record("e2", "b", minutes=5))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM counted").fetchone() == (2,)  # both approved
    wider = rules.replace("10m", "1h")  # a new window: the counter's text changed
    [e3] = judge(pipeline(path, wider), record("e3", "c", minutes=30))
    assert e3.rules is not None
    assert e3.rules.counters["posts"] == 3


def test_shadow_rules_change_nothing_and_are_recorded_for_their_topic() -> None:
    worker = pipeline(None)
    [v] = judge(worker, record("e1", "you idiot"))  # Counting scores it 0.95
    assert v.decision is Decision.REJECT  # the policy's own decision (toxic 0.95 > 0.8)
    assert v.rules is not None
    assert v.rules.fired == []
    assert [r.rule for r in v.rules.shadow] == ["any_insult"]
    [shadow] = shadow_records(v)
    assert (shadow.rule, shadow.live_decision, shadow.shadow_decision) == (
        "any_insult", Decision.REJECT, Decision.REJECT,
    )  # fmt: skip
    assert [a.kind for a in shadow.actions] == ["decision", "block_author"]
    out = outgoing(worker.process([record("e2", "idiot twice", minutes=1)]))
    topics = [topic for topic, _, _ in out.records]
    assert topics == ["verdicts.text", RULES_SHADOW.name]
    assert len(out.keys) == len(out.records)
    assert json.loads(out.records[1][2])["event_id"] == "e2"


def test_a_shadow_rule_would_change_an_approval() -> None:
    worker = pipeline(None, "shadow rule strict: when toxic > 0.01 then reject")
    [v] = judge(worker, record("e1", "hello"))
    assert v.decision is Decision.APPROVE
    [shadow] = shadow_records(v)
    assert (shadow.live_decision, shadow.shadow_decision) == (Decision.APPROVE, Decision.REJECT)


def test_a_tenant_without_rules_gets_the_verdict_unchanged() -> None:
    worker = pipeline(None)
    event = post_event("x1", "hello", tenant="other")
    [v] = worker.process([RawRecord("events.text", 0, 0, b"other:a", as_json(event))]).verdicts
    assert v.rules is None
    assert "rules" not in json.loads(v.model_dump_json(exclude_none=True))


def test_live_rules_pick_up_a_new_version_and_keep_the_last_good_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored: dict[str, tuple[int, str]] = {"demo": (1, "rule a: when true then review")}
    failing = False

    def read() -> dict[str, tuple[int, str]]:
        if failing:
            raise AccountsError("down")
        return dict(stored)

    live = LiveRules(read)
    live.refresh()
    assert [r.name for r in live.for_tenant("demo").rules] == ["a"]
    assert live.for_tenant("nobody").rules == ()
    stored["demo"] = (2, "rule b: when true then reject")
    live.refresh()
    assert (live.for_tenant("demo").version, live.for_tenant("demo").rules[0].name) == (2, "b")
    stored["demo"] = (3, "rule c: when nonsense then reject")  # stored by hand, say
    with caplog.at_level(logging.ERROR):
        live.refresh()
    assert live.for_tenant("demo").version == 2
    assert "rules version 3 ignored: line 1, column 14" in caplog.text
    failing = True
    live.refresh()
    assert live.for_tenant("demo").version == 2
    failing = False
    del stored["demo"]
    live.refresh()
    assert live.for_tenant("demo").rules == ()


def test_the_engine_re_reads_rules_on_its_timer() -> None:
    now = [0.0]
    reads: list[float] = []

    class Counted(Book):
        def refresh(self) -> None:
            reads.append(now[0])

    engine = RuleEngine(Counted(RULES), CounterStore(None), refresh_every=5, clock=lambda: now[0])
    for t in (1.0, 4.0, 5.0, 6.0, 10.5):
        now[0] = t
        engine.maybe_refresh()
    assert reads == [5.0, 10.5]
