"""`modstream bench chat`: N real Socket.IO clients chatting through the gateway at a fixed
offered rate; the latency of each message from its sender to its receiver, verdict included.

Each message carries its send time (`[bench SEQ NS]` at the end of its text); the receiver takes
the difference on arrival, in the same process and clock. Every message sent ends up counted
once: delivered (to its receiver, possibly masked or flagged), withheld (its sender was told),
refused (the gateway's ack said no), or lost (none of these before the drain ended).

Without `--url` it starts what it measures: the embedded broker, a stream worker and the gateway
(`modstream chat`), each in its own process, with a throwaway accounts store. With `--url` it
targets a running gateway, and must share its settings (accounts store, secret key): it makes
its users there and signs their login tokens itself.

One module (over 400 lines): the clients, the pacing and the figures are one measurement; its
parts are used nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import socketio
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from infra.accounts import AccountsDB
from infra.accounts.logins import issue_jwt
from infra.accounts.models import Tenant, User
from infra.broker import EmbeddedBroker
from infra.errors import ModstreamError
from infra.kafka import ensure_topics
from infra.logging import configure_logging
from infra.processes import free_port
from infra.report import Column, Figures, emit, figures_console, number
from infra.settings import AccountsSettings, Settings, get_settings
from infra.supervisor import Service, Supervisor, modstream_argv

console = figures_console(stderr=True)  # progress and status; the figures go to stdout

TENANT = "bench-chat"
NO_LOGIN = "!"  # not a password hash: bench users can only use the tokens the bench signs
_MARK = re.compile(r"\[bench (\d+) (\d+)\]$")
_WORDS = (
    "the a you we they this that is was really very so what why how great good bad awful "
    "thanks love nice game team match phone update news city people friend brilliant "
    "terrible lovely kind weather today tomorrow music film station traffic school dinner"
).split()
_INSULTS = (
    "you are a pathetic idiot, shut up you stupid loser",
    "shut up you worthless moron",
    "you stupid idiot, nobody likes you",
)


def bench_text(rng: random.Random, seq: int, sent_ns: int, toxic_share: float) -> str:
    """A short chat line, a share of them insulting, stamped with its sequence and send time
    (unique, so content dedupe cannot flatter the figures)."""
    words = rng.choices(_WORDS, k=rng.randint(4, 16))
    if rng.random() < toxic_share:
        words.insert(rng.randrange(len(words)), rng.choice(_INSULTS))
    return f"{' '.join(words)} [bench {seq} {sent_ns}]"


@dataclass
class Sent:
    sender: int
    at_ns: int
    message_id: str | None = None
    outcome: str | None = None  # delivered, masked, flagged, withheld, refused
    latency_ms: float | None = None


@dataclass
class ChatBenchResult:
    clients: int
    offered_rate: float
    send_seconds: float
    span_seconds: float
    """First send to last arrival (or withheld notice)."""
    messages: dict[int, Sent] = field(default_factory=dict)
    duplicates: int = 0

    def count(self, *outcomes: str | None) -> int:
        return sum(1 for m in self.messages.values() if m.outcome in outcomes)

    @property
    def sent(self) -> int:
        return len(self.messages)

    @property
    def delivered(self) -> int:
        return self.count("delivered", "masked", "flagged")

    @property
    def withheld(self) -> int:
        return self.count("withheld")

    @property
    def refused(self) -> int:
        return self.count("refused")

    @property
    def lost(self) -> int:
        return self.count(None)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.send_seconds if self.send_seconds else 0.0

    @property
    def throughput(self) -> float:
        """Messages judged and handled (delivered or withheld) per second."""
        done = self.delivered + self.withheld
        return done / self.span_seconds if self.span_seconds else 0.0

    @property
    def latencies_ms(self) -> np.ndarray:
        return np.array([m.latency_ms for m in self.messages.values() if m.latency_ms is not None])

    def percentiles(self) -> tuple[float, float, float]:
        lat = self.latencies_ms
        if not len(lat):
            return (float("nan"),) * 3
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        return float(p50), float(p95), float(p99)


class _Run:
    """The bookkeeping of one run: what each client sent, and what came back."""

    def __init__(self, clients: int, rate: float) -> None:
        self.result = ChatBenchResult(clients, rate, 0.0, 0.0)
        self.by_id: dict[str, int] = {}
        self.withheld_early: dict[str, int] = {}
        """Withheld notices that overtook their ack (message id → arrival)."""
        self.last_ns = 0

    def _settle(self, seq: int, outcome: str, at_ns: int, sent_ns: int | None = None) -> None:
        sent = self.result.messages.get(seq)
        if sent is None:
            return
        if sent.outcome is not None and sent.outcome != "refused":
            self.result.duplicates += 1
            return
        sent.outcome = outcome
        self.last_ns = max(self.last_ns, at_ns)
        if outcome in ("delivered", "masked", "flagged"):
            sent.latency_ms = (at_ns - (sent_ns or sent.at_ns)) / 1e6

    def ack(self, seq: int, answer: Any) -> None:
        sent = self.result.messages[seq]
        if isinstance(answer, dict) and answer.get("ok"):
            sent.message_id = str(answer["message_id"])
            self.by_id[sent.message_id] = seq
            if sent.message_id in self.withheld_early:
                self._settle(seq, "withheld", self.withheld_early.pop(sent.message_id))
        elif sent.outcome is None:
            sent.outcome = "refused"

    def message(self, data: Any) -> None:
        now = time.time_ns()
        if not isinstance(data, dict):
            return
        found = _MARK.search(str(data.get("text", "")))  # masking may have hidden it
        seq = int(found[1]) if found else self.by_id.get(str(data.get("message_id")))
        if seq is None:
            return
        outcome = "masked" if data.get("masked") else "flagged" if data.get("flagged") else None
        self._settle(seq, outcome or "delivered", now, int(found[2]) if found else None)

    def delivery(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("status") == "withheld":
            message_id = str(data.get("message_id"))
            seq = self.by_id.get(message_id)
            if seq is None:
                self.withheld_early[message_id] = time.time_ns()
            else:
                self._settle(seq, "withheld", time.time_ns())

    @property
    def pending(self) -> int:
        return self.result.lost


async def _connect(url: str, token: str, run: _Run) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    client.on("message", run.message)
    client.on("delivery", run.delivery)
    await client.connect(url, auth={"token": token}, transports=["websocket"])
    return client


async def run_bench(
    url: str,
    users: list[tuple[str, str]],
    *,
    rate: float,
    seconds: float,
    toxic_share: float = 0.1,
    drain: float = 15.0,
    seed: int = 7,
    progress: Progress | None = None,
) -> ChatBenchResult:
    """Connect one client per (email, token), send `rate * seconds` messages at `rate`/s, each
    to the next client round the ring, and wait up to `drain` seconds for the stragglers."""
    if len(users) < 2:
        raise ValueError("a chat needs at least two clients")
    run = _Run(len(users), rate)
    clients = [await _connect(url, token, run) for _, token in users]
    rng = random.Random(seed)
    total = max(1, round(rate * seconds))
    sending = progress.add_task("sending", total=total) if progress else None
    judged = progress.add_task("delivered or withheld", total=total) if progress else None
    try:
        start = time.monotonic()
        first_ns = time.time_ns()
        for seq in range(total):
            lag = start + seq / rate - time.monotonic()
            if lag > 0:
                await asyncio.sleep(lag)
            sender = seq % len(clients)
            to = users[(sender + 1) % len(users)][0]
            sent_ns = time.time_ns()
            text = bench_text(rng, seq, sent_ns, toxic_share)
            run.result.messages[seq] = Sent(sender, sent_ns)
            await clients[sender].emit(
                "message", {"to": to, "text": text}, callback=lambda a, s=seq: run.ack(s, a)
            )
            if progress and sending is not None and judged is not None and seq % 20 == 0:
                progress.update(sending, completed=seq + 1)
                progress.update(judged, completed=total - run.pending)
        run.result.send_seconds = time.monotonic() - start
        if progress and sending is not None:
            progress.update(sending, completed=total)
        deadline = time.monotonic() + drain
        while run.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if progress and judged is not None:
                progress.update(judged, completed=total - run.pending)
        await asyncio.sleep(0.3)  # duplicates, if any, arrive right behind
        run.result.span_seconds = max(0.0, (run.last_ns - first_ns) / 1e9)
        return run.result
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.disconnect()


def make_users(
    accounts: AccountsDB, settings: AccountsSettings, count: int, tenant: str = TENANT
) -> list[tuple[str, str]]:
    """`count` fresh chat users of `tenant` (created if missing), with login tokens signed here."""
    run = uuid.uuid4().hex[:8]
    made: list[tuple[str, int]] = []
    with accounts.session() as session:
        owner = session.query(Tenant).filter_by(name=tenant).one_or_none()
        if owner is None:
            owner = Tenant(name=tenant)
            session.add(owner)
            session.flush()
        for i in range(count):
            user = User(
                tenant_id=owner.id, email=f"bench-{run}-{i}@bench.invalid",
                password_hash=NO_LOGIN, role="member",
            )  # fmt: skip
            session.add(user)
            session.flush()
            made.append((user.email, user.id))
    return [
        (email, issue_jwt(settings, user_id=uid, tenant=tenant, role="member")[0])
        for email, uid in made
    ]


@contextlib.contextmanager
def embedded_stack(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """Broker, worker and gateway in their own processes, sharing a throwaway accounts store;
    yields the gateway's URL and the settings to make users with. Their output goes to
    `bench-chat-*.log` in the data directory: stdout carries only the figures (or the JSON)."""

    def service(name: str, *args: str) -> Service:
        log = settings.data_dir / f"bench-chat-{name}.log"
        return Service(name, modstream_argv(*args), log=log)

    with tempfile.TemporaryDirectory(prefix="modstream-bench-chat-") as tmp:
        broker = EmbeddedBroker(Path(tmp) / "broker", durable=settings.broker.durable).start()
        accounts_url = f"sqlite:///{Path(tmp) / 'accounts.db'}"
        port = free_port()
        supervisor = Supervisor({
            "MODSTREAM_KAFKA_BOOTSTRAP": broker.bootstrap, "MODSTREAM_ACCOUNTS_URL": accounts_url,
            "MODSTREAM_MODEL_DIR": str(settings.models_path), "MODSTREAM_LOG_LEVEL": "WARNING",
        })  # fmt: skip
        try:
            asyncio.run(ensure_topics(broker.bootstrap))
            AccountsDB(accounts_url).create_schema()
            if supervisor.spawn(service("train", "train", "--if-missing")).proc.wait():
                raise ModstreamError(
                    f"could not train the text model (see {settings.data_dir}/bench-chat-train.log)"
                )
            supervisor.children.clear()
            supervisor.spawn(service("worker", "worker"))
            supervisor.spawn(service("chat", "chat", "--port", str(port)))
            url = f"http://127.0.0.1:{port}"
            _wait_for_gateway(url, supervisor)
            accounts = settings.accounts.model_copy(update={"url": accounts_url})
            made = {"accounts": accounts, "kafka_bootstrap": broker.bootstrap}
            yield url, settings.model_copy(update=made)
        finally:
            supervisor.stop_all()
            broker.stop()


def _wait_for_gateway(url: str, supervisor: Supervisor, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = supervisor.exited()
        if failed:
            raise ModstreamError(
                f"{failed.name} exited with code {failed.proc.returncode} (its output: "
                f"{failed.service.log or 'above'})"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=2).is_success:
                return
        time.sleep(0.5)
    raise ModstreamError(f"the chat gateway did not start within {timeout:.0f}s")


def figures(result: ChatBenchResult, seconds: float) -> Figures:
    """One row per figure (a name, its value, its unit); in JSON also `facts` keyed by name."""
    p50, p95, p99 = result.percentiles()
    rows = [
        ("offered rate", "offered_per_s", result.offered_rate, "msg/s"),
        ("achieved rate", "achieved_per_s", result.achieved_rate, "msg/s"),
        ("throughput (delivered or withheld)", "throughput_per_s", result.throughput, "msg/s"),
        ("sent", "sent", result.sent, ""),
        ("delivered (incl. masked, flagged)", "delivered", result.delivered, ""),
        ("withheld", "withheld", result.withheld, ""),
        ("refused by the gateway", "refused", result.refused, ""),
        ("lost", "lost", result.lost, ""),
        ("duplicates", "duplicates", result.duplicates, ""),
        ("latency p50", "p50_ms", p50, "ms"),
        ("latency p95", "p95_ms", p95, "ms"),
        ("latency p99", "p99_ms", p99, "ms"),
    ]
    table = Figures(
        f"modstream bench chat ({result.clients} clients, {seconds:.0f} s)",
        [Column("figure"), Column("value", _value), Column("unit")],
    )
    for name, _, value, unit in rows:
        table.add(name, value, unit)
    table.facts = {"clients": result.clients, "seconds": seconds} | {
        key: value for _, key, value, _ in rows
    }
    return table


def _value(value: Any) -> str:
    """Counts and whole milliseconds as integers; rates with a decimal."""
    return number(1)(value) if isinstance(value, float) and abs(value) < 1_000 else number()(value)


async def _measure(
    url: str, users: list[tuple[str, str]], rate: float, seconds: float, toxic_share: float
) -> ChatBenchResult:
    columns = (
        TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
    )  # fmt: skip
    live = console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=not live) as progress:
        warm = progress.add_task("warm-up (the worker loads its model)", total=1)
        ready = await run_bench(url, users, rate=20, seconds=1, drain=120, seed=1)
        if ready.lost:
            raise ModstreamError(f"{ready.lost} of {ready.sent} warm-up messages got no answer")
        progress.remove_task(warm)
        return await run_bench(
            url, users, rate=rate, seconds=seconds, toxic_share=toxic_share, progress=progress
        )


def bench_chat(
    url: Annotated[
        str | None,
        typer.Option(help="A running gateway's URL, sharing these settings (default: start one)."),
    ] = None,
    clients: Annotated[int, typer.Option(min=2, help="Connected chat clients.")] = 20,
    rate: Annotated[float, typer.Option(min=1, help="Messages per second offered.")] = 200,
    seconds: Annotated[float, typer.Option(min=1, help="Length of the measured run.")] = 30,
    toxic_share: Annotated[float, typer.Option(min=0, max=1, help="Insulting share.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Latency sender → receiver (verdict included) and throughput of the chat gateway."""
    settings = get_settings()
    configure_logging("WARNING")
    with contextlib.ExitStack() as stack:
        if url is None:
            console.print("starting the broker, a worker and the chat gateway…")
            url, settings = stack.enter_context(embedded_stack(settings))
        accounts = AccountsDB(settings.accounts_db_url)
        stack.callback(accounts.close)
        users = make_users(accounts, settings.accounts, clients)
        result = asyncio.run(_measure(url, users, rate, seconds, toxic_share))
    emit([figures(result, seconds)], as_json=as_json)
