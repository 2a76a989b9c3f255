"""`modstream bench api`: a synthetic warehouse of N verdicts, then latency per endpoint.

The app runs for real (uvicorn on a loopback port, its own chdb warehouse in a fresh folder);
requests go over HTTP. The live feed is timed from a verdict's publish to its SSE delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from api.rollups import refresh
from infra.broker import EmbeddedBroker
from infra.errors import NotFound
from infra.kafka import ensure_topics
from infra.logging import configure_logging
from infra.processes import free_port
from infra.settings import Settings, get_settings
from infra.warehouse import Warehouse
from schemas.records import Verdict
from schemas.topics import VERDICTS_TEXT

console = Console()

TENANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_DAYS = 30
ITEMS_PER_AUTHOR = 50
"""Items per author on average: 10M verdicts come from 200,000 authors."""
CHUNK = 1_000_000

_VERDICTS = """
INSERT INTO verdicts (tenant, event_id, source, kind, item_id, author, occurred_at, judged_at,
    decision, toxic, scores, lang, spans, model_version, policy_version, duplicate_of, latency_ms)
SELECT {tenant:String}, concat('ev-', toString(number)), src,
    if(src = 'chat', 'chat_message', 'post'), toString(number),
    concat('user-', toString(cityHash64(number, 7) % {authors:UInt64})), occ,
    occ + toIntervalMillisecond(latency),
    multiIf(tox > 0.8, 'reject', tox > 0.2, 'review', 'approve'), tox,
    map('toxic', tox, 'insult', tox * 0.8, 'threat', tox * 0.3, 'obscene', tox * 0.6),
    ['en', 'en', 'en', 'ar', 'fr', 'es'][cityHash64(number, 5) % 6 + 1],
    if(tox > 0.5, [(0, 5)], []), 'bench-1', 'threshold-v1:0.2/0.8',
    if(number % 1000 = 999, concat('ev-', toString(number - 1)), NULL), latency
FROM (
    SELECT number, ['x', 'chat', 'comments', 'forum'][number % 4 + 1] AS src,
           pow((cityHash64(number, 1) % 1000) / 1000., 3) AS tox,
           50 + cityHash64(number, 3) % 400 AS latency,
           {start:DateTime64(3, 'UTC')}
             + toIntervalMillisecond(intDiv(number * {span_ms:UInt64}, {rows:UInt64})) AS occ
    FROM numbers({first:UInt64}, {count:UInt64})
)
"""

_EVENTS = """
INSERT INTO events (tenant, event_id, source, kind, item_id, author, occurred_at, received_at,
    lang, text, payload)
SELECT {tenant:String}, concat('ev-', toString(number)), src,
    if(src = 'chat', 'chat_message', 'post'), toString(number),
    concat('user-', toString(cityHash64(number, 7) % {authors:UInt64})), occ, occ, '',
    concat(['what a great game', 'you are an idiot', 'thanks friend', 'see you tomorrow',
            'this update is awful'][number % 5 + 1], ' #', toString(number)), '{}'
FROM (
    SELECT number, ['x', 'chat', 'comments', 'forum'][number % 4 + 1] AS src,
           {start:DateTime64(3, 'UTC')}
             + toIntervalMillisecond(intDiv(number * {span_ms:UInt64}, {rows:UInt64})) AS occ
    FROM numbers({first:UInt64}, {count:UInt64})
)
"""


def _authors(rows: int) -> int:
    return max(1, rows // ITEMS_PER_AUTHOR)


def stored(warehouse: Warehouse) -> int:
    """Bench verdicts already in the warehouse (a `--dir` kept from an earlier run)."""
    found = warehouse.rows(
        "SELECT count() AS n FROM verdicts WHERE tenant = {tenant:String}", {"tenant": TENANT}
    )
    return int(found[0]["n"])


def load(warehouse: Warehouse, rows: int) -> None:
    """Insert `rows` verdicts and their events in chunks, then bring the rollups up to date."""
    params: dict[str, Any] = {
        "tenant": TENANT, "authors": _authors(rows), "start": START, "rows": rows,
        "span_ms": SPAN_DAYS * 86_400_000,
    }  # fmt: skip
    columns = (
        TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("loading verdicts and events", total=rows)
        for first in range(0, rows, CHUNK):
            count = min(CHUNK, rows - first)
            chunk = params | {"first": first, "count": count}
            warehouse.command(_VERDICTS, chunk)
            warehouse.command(_EVENTS, chunk)
            progress.advance(task, count)
        task = progress.add_task("refreshing rollups", total=1)
        refresh(warehouse)
        progress.advance(task, 1)
        # A bulk load leaves several full copies of each author's row (this refresh and the API's
        # own refresher both recompute them), and FINAL reads merge them per query: the author
        # ranking takes ~100 ms until ClickHouse's background merges catch up. Measure the
        # steady state: wait out the refresher's settle time, then merge now.
        task = progress.add_task("merging rollups (as background merges would)", total=1)
        time.sleep(3)
        for table in ("rollup_authors", "rollup_hourly"):
            warehouse.command(f"OPTIMIZE TABLE {table} FINAL")
        progress.advance(task, 1)


class Server:
    """The real app under uvicorn, in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from api.app import create_app

        self.app = create_app(settings, run_sink=False)
        self.url = f"http://127.0.0.1:{settings.api.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=settings.api.port, log_level="warning",
            access_log=False, log_config=None,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 1800  # migrations of a reused --dir may backfill
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(30)

    @property
    def warehouse(self) -> Warehouse:
        state: Any = self.app.state.modstream
        return state.warehouse  # type: ignore[no-any-return]


Probe = Callable[[random.Random], tuple[str, dict[str, Any]]]


def _probes(rows: int) -> dict[str, Probe]:
    def when(rng: random.Random) -> str:
        return (START + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86_400))).isoformat()

    def event(rng: random.Random) -> str:
        """A post's id: a chat message (every fourth item) is private, and the bench's token,
        like most readers', lacks the `private` scope (a read with it also writes an audit)."""
        number = rng.randrange(rows)
        return f"ev-{number - 1 if number % 4 == 1 else number}"

    def author(rng: random.Random) -> str:
        return f"user-{rng.randrange(_authors(rows))}"

    end = START + timedelta(days=SPAN_DAYS)
    week = {"since": (end - timedelta(days=7)).isoformat(), "until": end.isoformat()}
    month = {"since": START.isoformat(), "until": end.isoformat()}
    return {
        "posts: newest page": lambda r: ("/v1/posts", {}),
        "posts: page at a random time": lambda r: ("/v1/posts", {"occurred_to": when(r)}),
        "posts: reject + lang=ar": lambda r: (
            "/v1/posts", {"decision": "reject", "lang": "ar", "occurred_to": when(r)}),
        "posts: label threat >= 0.25": lambda r: (
            "/v1/posts", {"label": "threat", "min_score": 0.25, "occurred_to": when(r)}),
        "posts: by author": lambda r: ("/v1/posts", {"author": author(r)}),
        "posts: sorted by toxic (scan)": lambda r: ("/v1/posts", {"sort": "toxic"}),
        "posts: text search (scan)": lambda r: ("/v1/posts", {"q": f"#{r.randrange(rows)}"}),
        "verdict detail": lambda r: (f"/v1/verdicts/{event(r)}", {}),
        "author stats": lambda r: (f"/v1/authors/{author(r)}", {}),
        "authors: most harmful": lambda r: ("/v1/authors", {}),
        "authors: harmful share": lambda r: ("/v1/authors", {"sort": "harmful_share"}),
        "timeseries: hourly, 7 days": lambda r: ("/v1/analytics/timeseries", week),
        "timeseries: daily labels, 30 days": lambda r: (
            "/v1/analytics/timeseries", month | {"interval": "day", "metric": "label"}),
        "breakdown: lang, 30 days": lambda r: ("/v1/analytics/breakdown", month),
        "overview: 30 days": lambda r: ("/v1/analytics/overview", month),
    }  # fmt: skip


def read_token(settings: Settings, tenant: str) -> str:
    """Create `tenant` (if new) and a read token for it in the bench's own accounts store."""
    from api.accounts import service
    from infra.accounts.store import AccountsDB

    db = AccountsDB(settings.accounts_db_url)
    db.create_schema()
    with db.session() as session:
        try:
            row = service.tenant_by_name(session, tenant)
        except NotFound:
            row = service.create_tenant(session, tenant)
        _, secret = service.create_token(
            session, settings.accounts, row, name="bench", scopes=frozenset({"read"}), user_id=None,
            expires_at=None, actor="bench", ctx=service.CLI,
        )  # fmt: skip
    return secret


Timings = tuple[np.ndarray, np.ndarray | None]
"""Wall times per request (ms) and, where measured, the process's CPU time per request (ms)."""


def measure(url: str, rows: int, requests: int, token: str) -> list[tuple[str, Timings]]:
    """Sequential requests per endpoint. The app runs in this process, so its CPU time per
    request (server, client and warehouse threads) says what a request costs on a busy machine,
    where wall times mostly measure the other work."""
    rng = random.Random(7)
    results: list[tuple[str, Timings]] = []
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        for name, probe in _probes(rows).items():
            times, cpu = [], []
            n = max(5, requests // 10) if "scan" in name else requests
            for i in range(n + 3):
                path, params = probe(rng)
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                cpu_ms = (time.process_time() - cpu_started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
                if i >= 3:  # warm-up
                    times.append(elapsed)
                    cpu.append(cpu_ms)
            results.append((name, (np.array(times), np.array(cpu))))
    return results


async def feed_latency(url: str, bootstrap: str, count: int, tenant: str, token: str) -> np.ndarray:
    """Publish `count` verdicts (~100/s); time each from just before its send to its SSE event."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def subscribe(ready: asyncio.Event) -> None:
        async with (
            httpx.AsyncClient(base_url=url, timeout=60) as client,
            client.stream(
                "GET", "/v1/verdicts/stream", headers={"Authorization": f"Bearer {token}"}
            ) as resp,
        ):
            async for line in resp.aiter_lines():
                if line.startswith("event: ready"):
                    ready.set()
                elif line.startswith("data: ") and '"event_id"' in line:
                    received = time.perf_counter()
                    event_id = json.loads(line[6:])["event_id"]
                    latencies.append((received - sent[event_id]) * 1000)
                    if len(latencies) == count:
                        done.set()
                        return

    ready = asyncio.Event()
    reader = asyncio.create_task(subscribe(ready))
    await asyncio.wait_for(ready.wait(), 30)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        now = datetime.now(UTC)
        for n in range(count):
            v = Verdict(
                event_id=f"{tenant}-{n}", tenant=tenant, source="bench", kind="post",
                item_id=str(n), author=f"a{n % 10}", occurred_at=now, judged_at=now,
                decision="approve", toxic=0.1, lang="en", model_version="m",
                policy_version="p", latency_ms=1.0,
            )  # fmt: skip
            sent[v.event_id] = time.perf_counter()
            await producer.send_and_wait(
                VERDICTS_TEXT.name, v.model_dump_json().encode(), key=v.partition_key.encode()
            )
            await asyncio.sleep(0.01)
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await producer.stop()
        reader.cancel()
    return np.array(latencies)


def _table(rows: int, results: list[tuple[str, Timings]]) -> Table:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(
        title=f"API latency over {rows:,} verdicts (ms, sequential requests; load {load})",
        caption="cpu: the process's CPU time per request, mean (server and client)",
    )
    for column in ("endpoint", "n", "p50", "p95", "p99", "cpu"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, (times, cpu) in results:
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        cpu_mean = "" if cpu is None else f"{cpu.mean():.1f}"
        table.add_row(name, str(len(times)), f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", cpu_mean)
    return table


def _fill(warehouse: Warehouse, rows: int, folder: Path) -> None:
    """Load `rows` verdicts, or reuse them when an earlier run left exactly that many."""
    have = stored(warehouse)
    if have == rows:
        console.print(f"reusing the {rows:,} verdicts already in {folder}")
        return
    if have:
        raise typer.BadParameter(
            f"{folder} holds {have:,} bench verdicts, not {rows:,}: pass another --dir "
            "(or the same --rows)",
            param_hint="--dir",
        )
    started = time.perf_counter()
    load(warehouse, rows)
    console.print(f"loaded {rows:,} verdicts in {time.perf_counter() - started:.0f} s")


def bench_api(
    rows: Annotated[int, typer.Option(help="Verdicts in the synthetic warehouse.")] = 10_000_000,
    requests: Annotated[int, typer.Option(help="Requests per endpoint.")] = 200,
    feed: Annotated[int, typer.Option(help="Verdicts timed through the live feed.")] = 300,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Warehouse folder [default: a temporary one]. Kept afterwards; a folder that "
            "already holds the same number of verdicts is reused without loading again.",
        ),
    ] = None,
) -> None:
    """Load a synthetic warehouse and print p50/p95/p99 per endpoint and for the live feed."""
    settings = get_settings()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="modstream-bench-") as tmp:
        folder = directory or Path(tmp)
        broker = None
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:
            broker = EmbeddedBroker(folder / "broker", durable=settings.broker.durable).start()
            bootstrap = broker.bootstrap
        try:
            asyncio.run(ensure_topics(bootstrap))
            app_settings = settings.model_copy(
                update={
                    "kafka_bootstrap": bootstrap,
                    "clickhouse_url": f"chdb://{(folder / 'warehouse').resolve()}",
                    "api": settings.api.model_copy(update={"port": free_port()}),
                    "data_dir": folder,
                    "accounts": settings.accounts.model_copy(update={"url": None}),
                }
            )
            with Server(app_settings) as server:
                _fill(server.warehouse, rows, folder)
                results = measure(server.url, rows, requests, read_token(app_settings, TENANT))
                feed_tenant = f"feed-{random.randrange(1 << 30)}"
                latencies = asyncio.run(
                    feed_latency(
                        server.url,
                        bootstrap,
                        feed,
                        feed_tenant,
                        read_token(app_settings, feed_tenant),
                    )
                )
                results.append(("live feed: topic → SSE subscriber", (latencies, None)))
                console.print(_table(rows, results))
        finally:
            if broker:
                broker.stop()
