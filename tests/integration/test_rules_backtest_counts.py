"""A backtest counts what the live engine counts: the same verdicts, judged one by one by the
worker's rule engine and then backtested in the embedded ClickHouse, fire the same rules the
same number of times; and the two ways a backtest counts (per author over arrays, or window
functions) agree, items at the same instant included."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.rules.backtest import backtest
from infra.rules.compile import compile_rules
from infra.warehouse import Warehouse
from schemas.events import Kind, PostEvent
from schemas.records import Decision, Verdict
from streams.rules.counters import CounterStore
from streams.rules.engine import OneRuleSet, RuleEngine
from tests.support.read_rows import new_tenant, store, verdict_row

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

SOURCE = """
counter posts = count by author within 10m
counter harsh = count by author within 1h where toxic > 0.6
counter per_source = count by source within 30m where scores.insult > 0.3

rule flood: when posts >= 4 then reject, label "flood"
rule harsh_streak: when harsh >= 2 and author.items < 30 then review, queue "mods"
rule habitual: when author.harmful_share > 0.5 and author.items >= 3 then reject
rule harmful_many: when author.harmful >= 4 then webhook "ts"
rule newcomer: when author.age < 600 and toxic > 0.5 then review
rule busy_source: when per_source >= 6 and lang in ["en", "fr"] then review
rule insults: when scores.insult > 0.7 or (spans >= 1 and toxic > 0.8) then reject
shadow rule watch: when decision == "review" and author.items > 5 then reject
rule weighted: when toxic * author.items > 6 and source != "x" then review
rule either: when spans >= 1 or author.age > 7200 then label "seen"
"""


def _rows(tenant: str, n: int, *, ties: bool) -> list[dict[str, Any]]:
    """`n` verdicts of a few authors over a few days before END, on whole seconds (10-millisecond
    ticks in the warehouse); with `ties`, some authors post twice in the same instant."""
    rng = random.Random(19)
    rows, at = [], END - timedelta(days=6)
    for i in range(n):
        if not (ties and rng.random() < 0.2):
            at += timedelta(seconds=rng.choice([1, 5, 30, 59, 60, 61, 300, 600, 1800, 3600]))
        toxic = (
            round(rng.random() * 0.99, 3) + 0.0005
        )  # never a threshold (scores are Float32 there)
        row = verdict_row(
            tenant, f"v{i:04d}", toxic=toxic, author=rng.choice(["ann", "bob", "cy", "dee"]),
            lang=rng.choice(["en", "fr", "ar"]), source=rng.choice(["chat", "comments"]),
            scores={"insult": round(rng.random() * 0.99, 3) + 0.0005, "toxic": toxic},
        )  # fmt: skip
        rows.append(row | {"occurred_at": at, "judged_at": at})
    shift = END - timedelta(minutes=1) - at  # the last one a minute before END
    return [r | {"occurred_at": r["occurred_at"] + shift} for r in rows]


def _live_counts(rows: list[dict[str, Any]]) -> Counter[str]:
    """Each verdict through the worker's engine, in time order: how often each rule fired."""
    rules = compile_rules(SOURCE)
    engine = RuleEngine(OneRuleSet(rules), CounterStore(None))
    fired: Counter[str] = Counter()
    for row in sorted(rows, key=lambda r: (r["occurred_at"], r["event_id"])):
        verdict = Verdict(
            event_id=row["event_id"], tenant=row["tenant"], source=row["source"], kind=Kind.POST,
            item_id=row["item_id"], author=row["author"], occurred_at=row["occurred_at"],
            judged_at=row["judged_at"], decision=Decision(row["decision"]), toxic=row["toxic"],
            scores=row["scores"], lang=row["lang"], spans=row["spans"], model_version="m1",
            policy_version="p1", latency_ms=1.0,
        )  # fmt: skip
        event = PostEvent.model_validate({
            "event_id": row["event_id"], "tenant": row["tenant"], "source": row["source"],
            "kind": "post", "occurred_at": row["occurred_at"],
            "payload": {"external_id": row["item_id"], "author": row["author"], "text": "hi"},
        })  # fmt: skip
        outcome = engine.apply(verdict, event).rules
        assert outcome is not None
        fired.update(r.rule for r in [*outcome.fired, *outcome.shadow])
    return fired


def test_a_backtest_fires_the_rules_the_live_engine_fires(warehouse: Warehouse) -> None:
    tenant = new_tenant()
    rows = _rows(tenant, 600, ties=False)
    store(warehouse, rows)
    live = _live_counts(rows)
    assert all(live[name] > 0 for name in ("flood", "harsh_streak", "habitual", "busy_source"))
    for arrays in (True, False):
        report = backtest(warehouse, tenant, SOURCE, days=7, until=END, arrays=arrays)
        assert report.verdicts == len(rows)
        assert {r.rule: r.fired for r in report.rules if r.fired} == dict(live), arrays


def test_counting_per_author_and_by_windows_agree_on_items_of_the_same_instant(
    warehouse: Warehouse,
) -> None:
    tenant = new_tenant()
    rows = _rows(tenant, 500, ties=True)
    assert len({(r["author"], r["occurred_at"]) for r in rows}) < len(rows)  # there are ties
    store(warehouse, rows)
    for mode in ("replace", "add"):
        arrays, windows = (
            backtest(warehouse, tenant, SOURCE, days=7, until=END, mode=mode, arrays=a).model_dump()
            for a in (True, False)
        )
        # which five examples of a rule come first depends on the order rows are read in
        assert Counter(e["rule"] for e in arrays.pop("examples")) == Counter(
            e["rule"] for e in windows.pop("examples")
        )
        del arrays["seconds"], windows["seconds"]
        assert arrays == windows, mode
        assert arrays["changed"] > 0
