"""`modstream bench rules`: the cost of a tenant's rules per event, and of a backtest over the
stored verdicts.

Evaluation: a rule set of `--rules` rules (thresholds on labels, language and source lists,
arithmetic, text matches, counters and the author's history) applied by the worker's engine to
synthetic verdicts on one thread, so on one core; counters in memory, flushed every `BATCH`
events as a worker flushes after each batch. Backtest: `--verdicts` synthetic verdicts written
into an embedded ClickHouse of its own (a temporary folder, or `--dir`, reused when it holds
them already), then the same kind of rule
set (less the text matches, which verdicts do not store) backtested over all of them, with and
without counters.
"""

from __future__ import annotations

import gc
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from infra.report import Column, Figures, emit, figures_console, number
from infra.rules.compile import compile_rules
from infra.warehouse import Warehouse
from schemas.events import Kind, PostEvent
from schemas.records import Decision, Verdict

bench_rules_app = typer.Typer(no_args_is_help=True)
console = figures_console()

LABELS = ("toxic", "insult", "obscene", "threat", "identity_hate", "severe_toxic")
COUNTERS = """
counter posts = count by author within 10m
counter daily = count by author within 1d
counter harsh = count by author within 1h where toxic > 0.6
counter same_words = count by content_hash within 1h
counter links = count by url within 10m
"""
BATCH = 500
"""Events per worker batch: the counters are flushed after each."""
_BACKTEST_COUNTERS = "\n".join(
    line for line in COUNTERS.splitlines() if "content_hash" not in line and "url" not in line
)


def rule_set(n: int, rng: random.Random, *, text: bool = True, counters: bool = True) -> str:
    """`n` rules of the kinds tenants write, with the counters they read."""
    rules = [COUNTERS if text else _BACKTEST_COUNTERS] if counters else []
    counter_names = ["posts", "daily", "harsh"] + (["same_words", "links"] if text else [])
    for i in range(n):
        a, b = rng.sample(LABELS, 2)
        x = round(rng.uniform(0.5, 0.95), 2)
        kind = i % 10
        if kind in (0, 1, 2, 3):
            when = f'scores.{a} > {x} and lang in ["en", "fr", "de"]'
        elif kind in (4, 5):
            when = f'toxic > {x} and source == "chat" and not duplicate'
        elif kind == 6 and counters:
            when = f"{rng.choice(counter_names)} >= {rng.randint(3, 20)} and author.items < 50"
        elif kind == 7 and text:
            when = f'lower(text) contains "{rng.choice(["buy now", "free", "click"])}{i}"'
        elif kind == 8:
            when = f"(scores.{a} + scores.{b}) / 2 > {x} or spans >= {rng.randint(3, 6)}"
        else:
            when = f'decision == "review" and author.harmful_share > {x} and kind == "post"'
        then = rng.choice(
            ['reject, label "spam"', 'review, queue "priority"', 'webhook "ts"', "block_author"]
        )
        shadow = "shadow " if i % 7 == 0 else ""
        rules.append(f"{shadow}rule r{i}:\n    when {when}\n    then {then}\n")
    return "\n".join(rules)


def _items(n: int, rng: random.Random) -> list[tuple[Verdict, PostEvent]]:
    now = datetime.now(UTC)
    words = "the game was great see you there thanks idiot stupid click free www.x.example".split()
    out = []
    for i in range(n):
        toxic = rng.random()
        author = f"user-{rng.randrange(2000)}"
        at = now + timedelta(seconds=i)
        text = " ".join(rng.choices(words, k=12))
        event = PostEvent.model_validate({
            "event_id": f"e{i}", "tenant": "bench", "source": "chat", "kind": "post",
            "occurred_at": at, "payload": {"external_id": f"e{i}", "author": author, "text": text},
        })  # fmt: skip
        verdict = Verdict(
            event_id=f"e{i}", tenant="bench", source=rng.choice(["chat", "comments"]),
            kind=Kind.POST, item_id=f"e{i}", author=author, occurred_at=at, judged_at=at,
            decision=Decision.REVIEW if toxic > 0.2 else Decision.APPROVE, toxic=toxic,
            scores={label: rng.random() for label in LABELS}, lang=rng.choice(["en", "ar", "fr"]),
            spans=[(0, 3)] * rng.randint(0, 4), model_version="m", policy_version="p",
            latency_ms=1.0,
        )  # fmt: skip
        out.append((verdict, event))
    return out


def _evaluation(n_rules: int, events: int, seed: int) -> Figures:
    from streams.rules.counters import CounterStore
    from streams.rules.engine import OneRuleSet, RuleEngine
    from streams.rules.facts import item_facts

    rng = random.Random(seed)
    compile_started = time.perf_counter()
    rules = compile_rules(rule_set(n_rules, rng))
    compile_ms = (time.perf_counter() - compile_started) * 1000
    items = _items(events, rng)
    engine = RuleEngine(OneRuleSet(rules), CounterStore(None))
    for verdict, event in items[:1000]:  # warm
        engine.apply(verdict, event)
    engine = RuleEngine(OneRuleSet(rules), CounterStore(None))
    # The 20,000 items are the bench's, not the engine's: a worker holds one batch. Frozen, the
    # collector does not walk them each time the engine's garbage makes it run.
    gc.collect()
    gc.freeze()
    started, cpu = time.perf_counter(), time.process_time()
    fired = 0
    for i, (verdict, event) in enumerate(items):
        out = engine.apply(verdict, event)
        fired += len(out.rules.fired) + len(out.rules.shadow) if out.rules else 0
        if i % BATCH == BATCH - 1:
            engine.flush()  # as the worker does after each batch
    apply_us = (time.perf_counter() - started) / events * 1e6
    apply_cpu_us = (time.process_time() - cpu) / events * 1e6
    facts = [item_facts(rules.reads, v, e) for v, e in items]
    for f in facts:  # what the counters and history put in, without counting again
        f.update(dict.fromkeys([c.name for c in rules.counters], 3.0))
        f.update({"author.items": 5.0, "author.harmful": 1.0, "author.harmful_share": 0.2,
                  "author.age": 600.0})  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    for f in facts:
        rules.evaluate(f)
    evaluate_us = (time.perf_counter() - started) / events * 1e6
    evaluate_cpu_us = (time.process_time() - cpu) / events * 1e6
    gc.unfreeze()
    figures = Figures(
        f"bench rules: evaluation, {n_rules} rules and {len(rules.counters)} counters, "
        f"{events:,} events, one thread",
        [Column("stage"), Column("µs per event (CPU)", number(1), "cpu_us_per_event"),
         Column("µs per event (wall)", number(1), "wall_us_per_event")],
    )  # fmt: skip
    figures.add("rules only (facts ready)", evaluate_cpu_us, evaluate_us)
    figures.add("engine: facts, counters, history, rules, verdict", apply_cpu_us, apply_us)
    figures.notes.append(
        f"Compiled in {compile_ms:.1f} ms; {fired / events:.2f} rules fired per event. CPU time "
        "is this process's own (what one core spends), wall time includes waiting for a core on "
        "a shared machine. Target: at most 50 µs per event with 100 rules."
    )
    figures.facts |= {"rules": n_rules, "events": events, "compile_ms": compile_ms}
    return figures


def _fill(warehouse: Warehouse, verdicts: int) -> float:
    """Synthetic verdicts of tenant `bench` over the last six days, written by ClickHouse."""
    started = time.perf_counter()
    warehouse.command(
        "INSERT INTO verdicts (tenant, event_id, source, kind, item_id, author, occurred_at, "
        "judged_at, decision, toxic, scores, lang, spans, model_version, policy_version, "
        "duplicate_of, latency_ms, rewrite, context, rules) "
        "SELECT 'bench', concat('e', toString(number)), ['x', 'chat', 'comments'][number % 3 + 1], "
        "'post', toString(number), concat('user-', toString(cityHash64(number, 1) % 50000)), "
        "now64(3) - toIntervalMillisecond(number * 50), now64(3), "
        "multiIf(t > 0.8, 'reject', t > 0.2, 'review', 'approve'), t, "
        "map('toxic', t, 'insult', t * 0.9, 'obscene', u, 'threat', t * u, "
        "'identity_hate', u * 0.5, 'severe_toxic', t * t), "
        "['en', 'ar', 'fr'][number % 3 + 1], arrayResize([(0, 3)], toUInt32(t * 4)), "
        "'m', 'p', NULL, 1.0, '', '', '' "
        "FROM (SELECT number, (cityHash64(number) % 1000) / 1000 AS t, "
        "(cityHash64(number, 2) % 1000) / 1000 AS u "
        "FROM numbers({n:UInt64}))",
        {"n": verdicts},
    )
    return time.perf_counter() - started


def _stored(warehouse: Warehouse) -> tuple[int, datetime | None, datetime | None]:
    found = warehouse.rows(
        "SELECT count() AS n, min(occurred_at) AS first, max(occurred_at) AS last "
        "FROM verdicts WHERE tenant = 'bench'"
    )[0]
    n = int(found["n"])
    return n, (found["first"] if n else None), (found["last"] if n else None)


def _backtests(verdicts: int, n_rules: int, seed: int, directory: Path | None) -> Figures:
    from infra.rules.backtest import backtest
    from infra.warehouse import connect, migrate

    figures = Figures(
        f"bench rules: backtests over {verdicts:,} stored verdicts (embedded ClickHouse)",
        [Column("rule set"), Column("verdicts", number()), Column("changed", number()),
         Column("seconds (wall)", number(2), "seconds"),
         Column("seconds (CPU)", number(2), "cpu_seconds")],
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="modstream-bench-rules-") as tmp:
        warehouse = connect(f"chdb://{(directory or Path(tmp)) / 'warehouse'}")
        migrate(warehouse)
        have, first, last = _stored(warehouse)
        if have and have != verdicts:
            raise typer.BadParameter(
                f"{directory} holds {have:,} bench verdicts, not {verdicts:,}: pass another "
                "--dir (or the same --verdicts)",
                param_hint="--dir",
            )
        if have:
            note = f"{verdicts:,} verdicts reused from {directory}."
        else:
            note = f"{verdicts:,} verdicts written in {_fill(warehouse, verdicts):.1f} s."
            have, first, last = _stored(warehouse)
        if first is None or last is None:
            raise typer.BadParameter("no verdicts to backtest", param_hint="--verdicts")
        days = int((last - first).total_seconds() // 86_400) + 1  # the whole of them
        rng = random.Random(seed)
        sets = {
            "one rule": 'rule insults: when scores.insult > 0.7 and lang == "en" then reject',
            f"{n_rules} rules, no counters": rule_set(n_rules, rng, text=False, counters=False),
            f"{n_rules} rules, 3 counters + history": rule_set(n_rules, rng, text=False),
        }
        for name, source in sets.items():
            cpu = time.process_time()  # ClickHouse runs in this process: its threads count
            report = backtest(warehouse, "bench", source, days=days, until=last)
            cpu_s = time.process_time() - cpu
            figures.add(name, report.verdicts, report.changed, report.seconds, cpu_s)
        warehouse.close()
    figures.notes.append(
        f"{note} Target: a backtest over 10,000,000 verdicts in at most 10 s. CPU time is this "
        "process's own, ClickHouse's threads included (wall time waits for cores on a shared "
        "machine)."
    )
    return figures


@bench_rules_app.command("rules")
def bench_rules(
    rules: Annotated[int, typer.Option(help="Rules in the evaluated set.")] = 100,
    events: Annotated[int, typer.Option(help="Events evaluated.")] = 20_000,
    verdicts: Annotated[int, typer.Option(help="Stored verdicts backtested (0: skip).")] = (
        10_000_000
    ),
    seed: Annotated[int, typer.Option()] = 7,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Warehouse folder for the backtests [default: a temporary one]. Kept; one that "
            "holds exactly --verdicts verdicts of tenant `bench` (this command's, or `bench api "
            "--dir`'s) is reused without writing them again.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Rules per event in the worker, and backtests over stored verdicts."""
    figures = [_evaluation(rules, events, seed)]
    if verdicts:
        figures.append(_backtests(verdicts, rules, seed, directory))
    emit(figures, as_json=json_out, console=console)
