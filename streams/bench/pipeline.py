"""`modstream bench …`: benchmarks that print figures (never timed assertions in tests)."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.progress import Progress

from infra.accounts import AccountsDB
from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics, next_offsets
from infra.logging import configure_logging
from infra.report import Column, Figures, emit, figures_console, number
from infra.retention import RetentionPolicy
from infra.settings import Settings, get_settings
from infra.supervisor import Service, Supervisor, modstream_argv
from schemas.topics import EVENTS_TEXT, READERS, VERDICTS_TEXT, WORKER_GROUP

bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
console = figures_console()

READER_GROUP = "modstream-bench-pipeline"
_WORDS = (
    "the a you we they this that is was really very so what why how great good bad awful "
    "thanks love nice game team match phone update news city people friend brilliant "
    "terrible lovely kind weather today tomorrow music film station traffic school dinner"
).split()
_INSULTS = ("you stupid idiot", "shut up you pathetic loser", "what a dumb moron", "i hate you")


def synthetic_text(rng: random.Random, n: int, toxic_share: float = 0.1) -> str:
    """A unique short post (unique, so content dedupe cannot flatter the figures); a share of
    them insulting, which costs more (spans are explained only for toxic texts)."""
    words = rng.choices(_WORDS, k=rng.randint(6, 24))
    if rng.random() < toxic_share:
        words.insert(rng.randrange(len(words)), rng.choice(_INSULTS))
    return " ".join(words) + f" #{n}"


def _event(event_id: str, rng: random.Random, n: int, toxic_share: float) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "tenant": "bench",
        "source": "bench",
        "kind": "post",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "external_id": event_id,
            "author": f"user-{n % 500}",
            "text": synthetic_text(rng, n, toxic_share),
        },
    }


@dataclass
class Scenario:
    name: str
    events: int
    rate: float  # events/s offered; 0 = as fast as possible
    toxic_share: float = 0.1
    workers: int = 1


@dataclass
class Outcome:
    scenario: Scenario
    seconds: float
    received: int
    duplicates: int
    latencies_ms: np.ndarray

    @property
    def throughput(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


async def _run(
    bootstrap: str, scenarios: list[Scenario], timeout: float, warm_up: int = 200
) -> list[Outcome]:
    # A group that commits what it read, as the warehouse sink does: the durable broker's
    # retention deletes verdicts once every reader is past them.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=READER_GROUP, enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition(VERDICTS_TEXT.name, p) for p in range(VERDICTS_TEXT.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        # Until every worker has joined and judged (a partition rebalanced later would stall a
        # run), twice: the first warm-up may end before the last worker joins.
        for _ in range(2):
            await _offer(producer, consumer, Scenario("warm-up", warm_up, 0), timeout=90)
        return [await _offer(producer, consumer, s, timeout) for s in scenarios]
    finally:
        await producer.stop()
        await consumer.stop()


async def _offer(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, scenario: Scenario, timeout: float
) -> Outcome:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)
    arrivals: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    duplicates = 0
    done_sending = asyncio.Event()

    async def send() -> None:
        start = time.monotonic()
        for n in range(scenario.events):
            if scenario.rate:
                lag = start + n / scenario.rate - time.monotonic()
                if lag > 0:
                    await asyncio.sleep(lag)
            event_id = f"bench-{run}-{n}"
            event = _event(event_id, rng, n, scenario.toxic_share)
            sent_at[event_id] = datetime.fromisoformat(event["occurred_at"]).timestamp()
            await producer.send(
                EVENTS_TEXT.name, json.dumps(event).encode(), key=f"bench:user-{n % 500}".encode()
            )
            if n % 1000 == 999:
                await asyncio.sleep(0)
        await producer.flush()
        done_sending.set()

    sender = asyncio.create_task(send())
    prefix = f"bench-{run}-"
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"{scenario.name}", total=scenario.events)
        deadline = time.monotonic() + timeout
        while len(arrivals) < scenario.events and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            if batch:
                await consumer.commit(next_offsets(r for rs in batch.values() for r in rs))
            for records in batch.values():
                for record in records:
                    verdict = json.loads(record.value)
                    event_id = verdict["event_id"]
                    if not event_id.startswith(prefix):
                        continue
                    if event_id in arrivals:
                        duplicates += 1
                    else:
                        arrivals[event_id] = now
            progress.update(task, completed=len(arrivals))
    await sender
    seconds = (max(arrivals.values()) - min(sent_at.values())) if arrivals else 0.0
    latencies = np.array([(arrivals[e] - sent_at[e]) * 1000 for e in arrivals])
    return Outcome(scenario, seconds, len(arrivals), duplicates, latencies)


def _figures(outcomes: list[Outcome], ceiling: float | None) -> Figures:
    figures = Figures(
        "modstream bench pipeline (events.text → workers → verdicts.text)",
        [Column("scenario"), Column("workers", number()),
         Column("offered/s", _offered, key="offered_per_s"), Column("events", number()),
         Column("throughput/s", number(), key="throughput_per_s"),
         Column("p50 ms", number()), Column("p95 ms", number()), Column("p99 ms", number()),
         Column("lost", number()), Column("dup", number())],
    )  # fmt: skip
    for o in outcomes:
        p50, p95, p99 = (
            np.percentile(o.latencies_ms, [50, 95, 99]) if o.received else (float("nan"),) * 3
        )
        figures.add(
            o.scenario.name, o.scenario.workers, o.scenario.rate, o.scenario.events,
            o.throughput, p50, p95, p99, o.scenario.events - o.received, o.duplicates,
        )  # fmt: skip
    one = [o.throughput for o in outcomes if o.scenario.workers == 1]
    if ceiling is not None and one:
        best = max(one)
        figures.facts |= {"ceiling_per_s": ceiling, "end_to_end_share": best / ceiling}
        figures.notes.append(
            f"Ceiling (one worker's judges fed directly, no broker, same texts): "
            f"{ceiling:,.0f} events/s; one worker end to end reached {best / ceiling:.0%} of it."
        )
    return figures


def _offered(rate: Any) -> str:
    return f"{rate:,.0f}" if rate else "max"


def in_process_ceiling(settings: Settings, events: int, toxic_share: float) -> float:
    """Events/s of the worker's judges called directly (its child processes, or its thread when
    `MODSTREAM_WORKER_PIPELINE_PROCESS=false`), in batches of the worker's size: what one worker
    could reach with no broker and no Faust."""
    from streams.pipeline import RawRecord
    from streams.pipeline_process import InProcess, Judge, Judges, text_pipeline

    judge: Judge
    if settings.worker.pipeline_process:
        judge = Judges(settings.worker.judge_count)
    else:
        judge = InProcess(text_pipeline(settings)[0])
    size = settings.worker.batch_size
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)  # texts never judged before: the score cache must not flatter it
    records = [
        RawRecord(EVENTS_TEXT.name, 0, n, f"bench:user-{n % 500}".encode(),
                  json.dumps(_event(f"ceiling-{run}-{n}", rng, n, toxic_share)).encode())
        for n in range(events + size)  # the first batch warms up
    ]  # fmt: skip
    try:
        judge.process(records[:size])  # warm-up: lazy model sessions, caches
        records = records[size:]
        started = time.perf_counter()
        for i in range(0, len(records), size):
            judge.process(records[i : i + size])
        return len(records) / (time.perf_counter() - started)
    finally:
        if isinstance(judge, Judges):
            judge.close()


def _counts(value: str, what: str) -> list[float]:
    try:
        counts = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what}: comma-separated numbers, got {value!r}") from None
    if not counts or min(counts) <= 0:
        raise typer.BadParameter(f"{what}: at least one number above 0, got {value!r}")
    return counts


@bench_app.command("pipeline")
def pipeline(
    events: Annotated[int, typer.Option(help="Events in each throughput run.")] = 30_000,
    rates: Annotated[
        str, typer.Option(help="Offered events/s of the latency runs, comma-separated.")
    ] = "1000,200",
    seconds: Annotated[float, typer.Option(help="Length of each latency run.")] = 15,
    workers: Annotated[
        str,
        typer.Option(help="Worker counts for the throughput run (a scaling curve), e.g. 1,2,4."),
    ] = "1",
    timeout: Annotated[float, typer.Option(help="Give up waiting for verdicts after.")] = 180,
    toxic_share: Annotated[float, typer.Option(help="Share of insulting texts.")] = 0.1,
    ceiling: Annotated[
        int, typer.Option(help="Texts to time in process for the ceiling (0: skip).")
    ] = 5_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """End-to-end throughput and latency (occurred_at → verdict on the topic) through one worker
    (and throughput through more, by partitions), beside the ceiling of one worker's judges
    measured in the same run."""
    offered = _counts(rates, "--rates")
    counts = [int(n) for n in _counts(workers, "--workers")]
    settings = get_settings()
    configure_logging("WARNING")
    broker = None
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:  # a broker of its own: nothing of `up`'s, and nothing left for it
        folder = Path(tempfile.mkdtemp(prefix="modstream-bench-pipeline-"))
        broker = EmbeddedBroker(
            folder,
            durable=settings.broker.durable,
            retention=RetentionPolicy(  # no sink here: the workers' group holds the events
                after_read=settings.broker.retention_after_read,
                required={WORKER_GROUP: READERS[WORKER_GROUP]},
            ),
        ).start()
        bootstrap = broker.bootstrap
    supervisor = Supervisor(
        {"MODSTREAM_KAFKA_BOOTSTRAP": bootstrap, "MODSTREAM_LOG_LEVEL": "WARNING"}
    )
    try:
        asyncio.run(ensure_topics(bootstrap))
        AccountsDB(settings.accounts_db_url).create_schema()  # the worker reads policies there
        outcomes: list[Outcome] = []
        for n in counts:
            scenarios = [Scenario("throughput", events, 0, toxic_share, n)]
            if n == 1:
                scenarios += [
                    Scenario("latency", int(rate * seconds), rate, toxic_share) for rate in offered
                ]
            outcomes += _with_workers(supervisor, settings, n, bootstrap, scenarios, timeout)
        measured = in_process_ceiling(settings, ceiling, toxic_share) if ceiling else None
        emit([_figures(outcomes, measured)], as_json=as_json, console=console)
    finally:
        supervisor.stop_all()
        if broker:
            broker.stop()
            shutil.rmtree(broker.folder, ignore_errors=True)


def _with_workers(
    supervisor: Supervisor,
    settings: Settings,
    n: int,
    bootstrap: str,
    scenarios: list[Scenario],
    timeout: float,
) -> list[Outcome]:
    """`scenarios` run through `n` workers, stopped afterwards (the ceiling is timed alone, on
    the cores the workers had). Their output goes to logs: stdout carries only the figures."""
    names = [f"worker-{i + 1}" for i in range(n)]
    for name in names:
        log = settings.data_dir / f"bench-pipeline-{name}.log"
        supervisor.spawn(Service(name, modstream_argv("worker"), log=log))
    try:
        return asyncio.run(_run(bootstrap, scenarios, timeout, warm_up=200 * n))
    finally:
        supervisor.stop(names, grace=10.0)
        for name in names:
            child = supervisor.get(name)
            if child is not None:
                supervisor.forget(child)


@bench_app.command("media")
def media(
    images: Annotated[int, typer.Option(help="Generated images to hash.")] = 200,
    video_seconds: Annotated[float, typer.Option(help="Length of the generated video.")] = 60,
    size: Annotated[int, typer.Option(help="Hashes in the index.")] = 1_000_000,
    queries: Annotated[int, typer.Option(help="Index lookups to time.")] = 10_000,
    batch: Annotated[int, typer.Option(help="Lookups per index call.")] = 250,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Image hashes/s, video-seconds/s, and near-duplicate lookups/s at `size` stored hashes."""
    from streams.bench.media import run

    configure_logging("WARNING")
    figures = run(figures_console(stderr=True), images=images, video_seconds=video_seconds,
                  size=size, queries=queries, batch=batch)  # fmt: skip
    emit([figures], as_json=as_json, console=console)
