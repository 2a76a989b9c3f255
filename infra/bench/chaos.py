"""`modstream bench chaos`: offer events to a running stack while SIGKILLing its services, then
count what became of every accepted event.

It starts `modstream up` in a throwaway data dir (its own ports), feeds text posts through
`POST /v1/events` at a fixed rate in batches, and every few seconds SIGKILLs one service chosen
at random (the worker, the strikes worker, the API with its sink, the broker, its object store).
A client that gets no answer, or 503, retries the same batch (same event ids), as a real client
would; only events answered 202 count as accepted. When the load ends it waits until every
accepted event has a verdict on `verdicts.text` (or a deadline passes), stops the stack with
Ctrl-C, and counts verdicts on the topic and in the warehouse (`FINAL`): lost and doubled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from rich.progress import Progress

from infra.errors import ModstreamError
from infra.processes import free_port, kill_descendants
from infra.report import Column, Figures, emit, figures_console, number
from schemas.topics import VERDICTS_TEXT

log = logging.getLogger(__name__)
console = figures_console(stderr=True)  # progress and notes; the figures go to stdout

TARGETS = ("worker", "strikes", "api", "broker", "objects")
AUDIT_GROUP = "modstream-chaos-audit"
TENANT = "demo"  # the tenant `modstream up` makes its development token for
TEXTS = (
    "Thanks for sharing, this was really helpful.",
    "I disagree with the premise but it is a fair point.",
    "You are an idiot and everyone here knows it.",
    "What time does the match start tomorrow?",
    "Great photo, where was it taken?",
    "Shut up, nobody wants your stupid opinion.",
    "The new release fixed the bug I reported last week.",
    "Could you post the recipe? It looks delicious.",
)


@dataclass
class Run:
    offered: int = 0
    accepted: set[str] = field(default_factory=set)
    retries: int = 0
    refused: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    settle_s: float = 0.0
    topic: Counter[str] = field(default_factory=Counter)
    stored: int = 0
    stored_distinct: int = 0

    @property
    def lost_on_topic(self) -> int:
        return sum(1 for e in self.accepted if not self.topic[e])

    @property
    def doubled_on_topic(self) -> int:
        return sum(n - 1 for n in self.topic.values() if n > 1)

    @property
    def lost_in_warehouse(self) -> int:
        return len(self.accepted) - self.stored_distinct

    @property
    def doubled_in_warehouse(self) -> int:
        return self.stored - self.stored_distinct


def chaos(  # noqa: PLR0913, PLR0917 - a command: one parameter per option
    events: Annotated[int, typer.Option(help="Events to offer.")] = 50_000,
    rate: Annotated[float, typer.Option(help="Events offered per second.")] = 300.0,
    kill_every: Annotated[float, typer.Option(help="Seconds between kills.")] = 6.0,
    batch: Annotated[int, typer.Option(help="Events per request.")] = 50,
    targets: Annotated[str, typer.Option(help="Services to kill, comma-separated.")] = ",".join(
        TARGETS
    ),
    settle: Annotated[float, typer.Option(help="Seconds to wait for the last verdicts.")] = 600,
    seed: Annotated[int, typer.Option(help="Random seed for the kill order.")] = 7,
    keep: Annotated[bool, typer.Option(help="Keep the data dir (its path is printed).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """SIGKILL services under load; count lost and doubled verdicts (topic and warehouse)."""
    chosen = [t.strip() for t in targets.split(",") if t.strip()]
    if unknown := set(chosen) - set(TARGETS):
        raise ModstreamError(f"unknown targets {sorted(unknown)}; choose from {TARGETS}")
    folder = Path(tempfile.mkdtemp(prefix="modstream-chaos-"))
    try:
        choose = random.Random(seed).choice
        run = run_chaos(folder, events, rate, kill_every, batch, chosen, settle, choose)
        emit([_figures(run, events, rate)], as_json=as_json)
        if run.lost_on_topic or run.lost_in_warehouse:
            raise typer.Exit(1)
    finally:
        if keep:
            console.print(f"data dir kept: {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def run_chaos(
    folder: Path,
    events: int,
    rate: float,
    kill_every: float,
    batch: int,
    targets: list[str],
    settle: float,
    choose: Callable[[list[str]], str],
) -> Run:
    """Start the stack in `folder`, offer and kill (`choose` picks among the running targets),
    wait for the verdicts, stop the stack and count."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")} | {
        "MODSTREAM_DATA_DIR": str(folder),
        "MODSTREAM_API_PORT": str(port),
        "MODSTREAM_CHAT_PORT": str(free_port()),
        "MODSTREAM_ASSIST_PORT": str(free_port()),
        "MODSTREAM_LOG_LEVEL": "WARNING",
    }
    for name in ("MODSTREAM_MODEL_DIR", "MODSTREAM_TRAINING_DATA"):
        if name in os.environ:  # a trained model saves minutes of start-up
            env[name] = os.environ[name]
    api = f"http://127.0.0.1:{port}"
    with (folder / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "up", "--no-samples"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    run = Run()
    try:
        token = _wait_up(api, folder, up)
        asyncio.run(_hold_verdicts(_bootstrap(folder)))
        prefix = f"chaos-{uuid.uuid4().hex[:8]}"
        load = _Load(events, rate, batch, kill_every, targets, choose)
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("offering events", total=events)
            _offer(api, token, prefix, load, folder, run, lambda n: bar.update(task, completed=n))
        bootstrap = _bootstrap(folder)
        started = time.monotonic()
        with console.status("waiting for every accepted event's verdict"):
            while time.monotonic() - started < settle:
                counts = asyncio.run(_verdicts_on_topic(bootstrap, prefix))
                run.topic = counts if counts is not None else run.topic
                done = counts is not None and all(counts[e] for e in run.accepted)
                if done and _sink_caught_up(bootstrap):
                    break
                time.sleep(3)
        run.settle_s = time.monotonic() - started
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(120)
        except subprocess.TimeoutExpired:
            up.kill()
        kill_descendants(up.pid)
    run.stored, run.stored_distinct = _stored(folder, prefix)
    return run


def _wait_up(api: str, folder: Path, up: subprocess.Popen[bytes], timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    with console.status("starting the stack (modstream up)"):
        while time.monotonic() < deadline:
            if up.poll() is not None:
                raise ModstreamError(f"modstream up exited; see {folder / 'up.log'}")
            token_file = folder / "dev-token"
            try:
                if token_file.exists() and httpx.get(f"{api}/health", timeout=2).is_success:
                    return token_file.read_text().strip()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise ModstreamError(f"the stack did not come up; see {folder / 'up.log'}")


@dataclass(frozen=True, slots=True)
class _Load:
    """What is offered, how fast, and what is killed how often (`choose` picks the victim)."""

    events: int
    rate: float
    batch: int
    kill_every: float
    targets: list[str]
    choose: Callable[[list[str]], str]


def _offer(
    api: str,
    token: str,
    prefix: str,
    load: _Load,
    folder: Path,
    run: Run,
    progress: Callable[[int], object],
) -> None:
    events, rate, batch, kill_every = load.events, load.rate, load.batch, load.kill_every
    headers = {"Authorization": f"Bearer {token}"}
    start = time.monotonic()
    next_kill = start + kill_every
    with httpx.Client(base_url=api, headers=headers, timeout=10) as client:
        for first in range(0, events, batch):
            docs = [_event(TENANT, prefix, i) for i in range(first, min(events, first + batch))]
            run.offered += len(docs)
            while True:  # the same batch until it is answered: a client's retry
                now = time.monotonic()
                if now >= next_kill:
                    _kill(folder, load.targets, load.choose, run)
                    next_kill = now + kill_every
                try:
                    response = client.post("/v1/events", json=docs)
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 202:
                    run.accepted.update(response.json()["event_ids"])
                    break
                if response is not None and response.status_code < 500:
                    run.refused += len(docs)  # refused for good (e.g. a blocked author)
                    break
                run.retries += 1
                time.sleep(0.5)
            progress(run.offered)
            lag = start + run.offered / rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)


def _event(tenant: str, prefix: str, i: int) -> dict[str, Any]:
    return {
        "event_id": f"{prefix}-{i}",
        "tenant": tenant,
        "source": "comments",
        "kind": "post",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "external_id": f"{prefix}-{i}",
            "author": f"{prefix}-author-{i}",  # one post each: no author is ever blocked
            "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
        },
    }


def _kill(folder: Path, targets: list[str], choose: Callable[[list[str]], str], run: Run) -> None:
    try:
        services = json.loads((folder / "services.json").read_text())["services"]
    except (OSError, ValueError, KeyError):
        return
    alive = [t for t in targets if services.get(t, {}).get("state") == "running"]
    if not alive:
        return
    name = choose(alive)
    try:
        os.kill(int(services[name]["pid"]), signal.SIGKILL)
        run.kills[name] += 1
    except ProcessLookupError:
        pass


def _bootstrap(folder: Path) -> str:
    ports = json.loads((folder / "broker" / "ports.json").read_text())
    return f"127.0.0.1:{ports['kafka']}"


def _sink_caught_up(bootstrap: str) -> bool:
    from infra.kafka import lag
    from infra.warehouse.sink import ROUTES

    try:
        return asyncio.run(lag(bootstrap, "modstream-sink", tuple(ROUTES))) == 0
    except ModstreamError:
        return False


async def _hold_verdicts(bootstrap: str) -> None:
    """Become a reader of `verdicts.text` that has read nothing, so that the broker's retention
    keeps every verdict for the count at the end (it deletes what every reader is done with)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=AUDIT_GROUP, enable_auto_commit=False
    )
    parts = [TopicPartition(VERDICTS_TEXT.name, p) for p in range(VERDICTS_TEXT.partitions)]
    try:
        await consumer.start()
        consumer.assign(parts)
        await consumer.commit(dict.fromkeys(parts, 0))
    except KafkaError as exc:
        raise ModstreamError(f"cannot hold {VERDICTS_TEXT.name} for the count: {exc}") from exc
    finally:
        await consumer.stop()


async def _verdicts_on_topic(bootstrap: str, prefix: str) -> Counter[str] | None:
    """How many verdicts each of this run's events has on `verdicts.text`, from the start; None
    if the broker could not be read to the end this time (it may be restarting)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=100)
    counts: Counter[str] = Counter()
    try:
        await consumer.start()
        parts = [TopicPartition(VERDICTS_TEXT.name, p) for p in range(VERDICTS_TEXT.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        idle = 0
        while idle < 3:
            got = await consumer.getmany(timeout_ms=500, max_records=10_000)
            idle = 0 if got else idle + 1
            for records in got.values():
                for record in records:
                    event_id = json.loads(record.value or b"{}").get("event_id", "")
                    if event_id.startswith(prefix):
                        counts[event_id] += 1
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("could not read %s this time: %r", VERDICTS_TEXT.name, exc)
        return None
    finally:
        await consumer.stop()
    return counts


def _stored(folder: Path, prefix: str) -> tuple[int, int]:
    """Verdict rows in the warehouse (FINAL) for this run, and their distinct event ids. Read in
    a process of its own: chdb opens one database per process, and ours may have one open."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _COUNT, str((folder / "warehouse").resolve()), prefix],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ModstreamError(f"cannot count the stored verdicts: {done.stderr[-2000:]}")
    stored, distinct = done.stdout.split()
    return int(stored), int(distinct)


_COUNT = """
import sys
from infra.warehouse import connect
warehouse = connect(f"chdb://{sys.argv[1]}")
row = warehouse.rows(
    "SELECT count() AS n, uniqExact(event_id) AS d FROM verdicts FINAL "
    "WHERE startsWith(event_id, {p:String})", {"p": sys.argv[2]},
)[0]
print(row["n"], row["d"])
"""


def _figures(run: Run, events: int, rate: float) -> Figures:
    accepted = len(run.accepted)
    figures = Figures(
        f"bench chaos: {events:,} events offered at {rate:,.0f}/s",
        [Column("measure"), Column("value", number(), key="value")],
    )
    kills = ", ".join(f"{name} {n}" for name, n in sorted(run.kills.items()))
    figures.add("events accepted (202)", accepted)
    figures.add("requests retried (no answer or 5xx)", run.retries)
    figures.add("events refused (4xx)", run.refused)
    figures.add("kills", sum(run.kills.values()))
    figures.add("verdicts on the topic, distinct events", accepted - run.lost_on_topic)
    figures.add("lost on the topic", run.lost_on_topic)
    figures.add("doubled on the topic (extra copies)", run.doubled_on_topic)
    figures.add("verdicts in the warehouse (FINAL)", run.stored)
    figures.add("lost in the warehouse", run.lost_in_warehouse)
    figures.add("doubled in the warehouse", run.doubled_in_warehouse)
    figures.add("seconds from the last event to the last verdict", run.settle_s)
    figures.notes.append(f"kills by service: {kills}")
    figures.facts["kills_by_service"] = dict(run.kills)
    return figures
