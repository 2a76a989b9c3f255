"""The `modstream` command. Its root lives here; streams/, producers/ and api/ add their own
subcommands through the `modstream.commands` entry points, so infra never imports them.

One module (just over 400 lines): `up`, its start-up and drain steps, and the few commands of
infra's own are the composition root; the broker, supervisor and retention they wire live apart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from infra import metrics
from infra.accounts import AccountsDB, PrivacyRegistry
from infra.broker import EmbeddedBroker, stack_broker
from infra.errors import ModstreamError, WarehouseError
from infra.kafka import EVENT_TOPICS, ensure_topics, lag
from infra.logging import configure_logging, heartbeat
from infra.processes import become_subreaper, kill_descendants
from infra.settings import Settings, get_settings
from infra.supervisor import Service, Supervisor, modstream_argv
from infra.warehouse import Warehouse, connect
from schemas.topics import SINK_GROUP, WORKER_GROUP

app = typer.Typer(
    name="modstream",
    help="Kafka-native content moderation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
schemas_app = typer.Typer(help="Wire contracts for producers in other languages.")
app.add_typer(schemas_app, name="schemas")
console = Console(stderr=True)
log = logging.getLogger("modstream")


@app.command()
def up(
    samples: Annotated[bool, typer.Option(help="Feed the bundled sample events.")] = True,
) -> None:
    """Start everything on this machine: broker, worker, API + warehouse sink; feed samples.

    Crashed services are restarted (with back-off); Ctrl-C or SIGTERM drains and stops them all."""
    settings = get_settings()
    configure_logging(settings.log_level)
    logging.raiseExceptions = False  # a closed stdout must not get in the way of stopping
    become_subreaper()  # a dead service's children come to us, and are stopped with the rest
    supervisor = Supervisor({}, status_file=settings.data_dir / "services.json", reaper=True)
    stop = _stop_on_signals()
    api_url = f"http://{settings.api.host}:{settings.api.port}"
    token_file = settings.data_dir / "dev-token"
    bootstrap = settings.kafka_bootstrap
    broker: EmbeddedBroker | None = None
    code = 0
    try:
        if not bootstrap:
            broker = stack_broker(settings.data_dir / "broker", settings.broker, supervisor).start()
            bootstrap = broker.bootstrap
        supervisor.env["MODSTREAM_KAFKA_BOOTSTRAP"] = bootstrap
        asyncio.run(ensure_topics(bootstrap))
        token = _prepare(supervisor, stop, settings, token_file)
        for name, command in SERVICES:
            supervisor.spawn(Service(name, modstream_argv(*command)))
        if settings.x.client_id:  # X ingestion is configured: poll the connected accounts
            supervisor.spawn(Service("x-poll", modstream_argv("x-poll")))
        _wait_healthy(api_url, supervisor, stop)
        if samples and token:
            argv = modstream_argv("produce", "samples", "--api", api_url, "--token-file",
                                  str(token_file))  # fmt: skip
            supervisor.spawn(Service("samples", argv, restart=False))
        _banner(api_url, bootstrap, settings.data_dir, token, stop)
        while not stop.is_set():
            supervisor.heal()
            stop.wait(0.5)
    except _Stopped:
        pass
    except ModstreamError as exc:
        _say(stop, f"[red]error:[/] {exc}")
        code = 1
    finally:
        _say(stop, "stopping… (intake answers 503 while the services finish their work)")
        if broker is not None and broker.retention is not None:
            broker.retention.stop()  # before the broker it asks
        pending = _drain(supervisor, settings, bootstrap)
        left = kill_descendants(os.getpid())
        if left:
            log.warning("killed %d process(es) left behind: %s", len(left), left)
        _say(stop, f"stopped.{pending}")
    raise typer.Exit(code)


# The long-running services, in start order (`_drain` stops them in its own order).
SERVICES = (
    ("worker", ("worker",)),
    ("strikes", ("strikes",)),
    ("chat", ("chat",)),
    ("assist", ("assist",)),
    ("api", ("serve",)),
)


def _prepare(
    supervisor: Supervisor, stop: _Flag, settings: Settings, token_file: Path
) -> str | None:
    """The start-up steps: a model, the accounts store, and (in development) a demo token."""
    _step(supervisor, stop, "train", modstream_argv("train", "--if-missing"))
    AccountsDB(settings.accounts_db_url).create_schema()  # the workers read policies there
    if settings.env != "development":  # never elsewhere: a known token is a known door
        return None
    argv = modstream_argv("admin", "dev-bootstrap", "--write", str(token_file))
    if _step(supervisor, stop, "bootstrap", argv) != 0:
        raise ModstreamError("could not create the development tenant and token")
    return token_file.read_text().strip()


def _drain(supervisor: Supervisor, settings: Settings, bootstrap: str | None) -> str:
    """Stop in order, within `drain_timeout`: intake refuses writes (503), producers stop, the
    workers finish and commit, the sink stores what they sent; then the broker. Returns a note
    on what is left for the next start (nothing is lost: the broker keeps it)."""
    deadline = time.monotonic() + settings.drain_timeout

    def left(reserve: float = 0.0) -> float:
        return max(1.0, deadline - time.monotonic() - reserve)

    supervisor.signal(["api"], signal.SIGUSR1)
    supervisor.stop(["samples", "x-poll", "chat", "assist"], grace=min(5.0, left()))
    supervisor.stop(["worker", "strikes"], grace=left(reserve=8))
    pending = _pending(bootstrap, supervisor) if bootstrap else {}
    if pending.get("to store") and supervisor.get("api"):
        _wait_stored(bootstrap or "", until=time.monotonic() + left(reserve=5))
        pending = _pending(bootstrap or "", supervisor)
    supervisor.stop(["api"], grace=left(reserve=2))
    supervisor.stop(["broker", "objects"], grace=5.0)
    supervisor.stop_all(grace=2.0)
    waiting = ", ".join(f"{n:,} {what}" for what, n in pending.items() if n)
    return f" Pending for the next start: {waiting}." if waiting else ""


def _pending(bootstrap: str, supervisor: Supervisor) -> dict[str, int]:
    """Events not yet judged and records not yet stored, as the broker counts them."""
    from infra.warehouse.sink import ROUTES

    broker = supervisor.get("broker")
    if broker is not None and broker.proc.poll() is not None:
        return {}
    try:
        return {
            "to judge": asyncio.run(lag(bootstrap, WORKER_GROUP, EVENT_TOPICS)),
            "to store": asyncio.run(lag(bootstrap, SINK_GROUP, tuple(ROUTES))),
        }
    except ModstreamError as exc:
        log.warning("could not count what is pending: %s", exc)
        return {}


def _wait_stored(bootstrap: str, until: float) -> None:
    from infra.warehouse.sink import ROUTES

    while time.monotonic() < until:
        with contextlib.suppress(ModstreamError):
            if asyncio.run(lag(bootstrap, SINK_GROUP, tuple(ROUTES))) == 0:
                return
        time.sleep(0.5)


class _Stopped(ModstreamError):
    """Ctrl-C or SIGTERM during a start-up step."""


def _step(supervisor: Supervisor, stop: _Flag, name: str, argv: list[str]) -> int:
    """Run one start-up step to its end (its exit code), or stop it when we are asked to stop."""
    child = supervisor.spawn(Service(name, argv, restart=False))
    while child.proc.poll() is None:
        if stop.is_set():
            raise _Stopped(f"interrupted during {name}")
        stop.wait(0.2)
    supervisor.forget(child)
    return child.proc.returncode


def _stop_on_signals() -> _Flag:
    flag = _Flag()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: flag.set())
    return flag


class _Flag:
    """A stop flag that signal handlers can set and the main loop can sleep on."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._set and time.monotonic() < end:
            time.sleep(0.05)


def _say(stop: _Flag, message: str) -> None:
    """Print to the console; if it is gone (a closed pipe), stop instead of failing."""
    try:
        console.print(message)
    except OSError:
        _lost_console(stop)


def _lost_console(stop: _Flag) -> None:
    """stdout/stderr is a closed pipe (`up | tee log`, then tee died): stop, and send further
    output (logs, the interpreter's last flush) nowhere rather than fail on it."""
    stop.set()
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def _wait_healthy(api_url: str, supervisor: Supervisor, stop: _Flag, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        supervisor.heal()
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.5)
    if not stop.is_set():
        raise ModstreamError(f"the API did not become healthy within {timeout:.0f}s")


def _banner(api_url: str, bootstrap: str, data_dir: Path, token: str | None, stop: _Flag) -> None:
    settings = get_settings()
    lines = [
        f"  API docs      {api_url}/docs",
        f"  Health        {api_url}/health",
        f"  Console       {api_url}/console  (sign in with a user: modstream admin create-user)",
        f"  Chat          ws://{settings.chat.host}:{settings.chat.port}/socket.io/",
        f"  A verdict     {api_url}/v1/verdicts/sample-en-1",
    ]
    if token:
        lines += [
            f"  Dev token     {token}  (tenant demo; also in {data_dir / 'dev-token'})",
            f'  Try           curl -H "Authorization: Bearer $(cat {data_dir / "dev-token"})" '
            f"{api_url}/v1/verdicts/sample-en-1",
        ]
    else:
        lines.append("  Accounts      modstream admin create-tenant … (docs/getting-started.md)")
    lines += [
        f"  Kafka         {bootstrap}  (topics: events.text, verdicts.text, …)",
        *_metrics_lines(api_url, settings),
        f"  Data          {data_dir.resolve()}",
        "  Press Ctrl-C to stop.",
    ]
    try:
        console.rule("[bold green]Modstream is up")
        for line in lines:
            console.print(line)
        console.rule()
    except OSError:
        _lost_console(stop)


def _metrics_lines(api_url: str, settings: Settings) -> list[str]:
    """Where Prometheus scrapes each service (the sink's figures are the API's, embedded)."""
    m = settings.metrics
    where = [f"api {api_url}/metrics"] if m.api_route else []
    where += [
        f"{name} http://{m.host}:{port}/metrics"
        for name, port in (("worker", m.worker_port), ("strikes", m.strikes_port))
        if port
    ]
    if not where:
        return []
    return [f"  Metrics       {where[0]}", *(f"                {w}" for w in where[1:])]


@app.command()
def broker() -> None:
    """Run the embedded broker alone, in the foreground (prints its bootstrap address)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    with stack_broker(settings.data_dir / "broker", settings.broker) as running:
        asyncio.run(ensure_topics(running.bootstrap))
        console.print(f"MODSTREAM_KAFKA_BOOTSTRAP={running.bootstrap}")
        stop = _stop_on_signals()
        while not stop.is_set():
            stop.wait(1)


@app.command()
def migrate() -> None:
    """Apply the warehouse's pending SQL migrations; create the accounts store's tables."""
    from infra.warehouse import migrate as run_migrations

    settings = get_settings()
    configure_logging(settings.log_level)
    applied = run_migrations(_connect_with_retry(settings.warehouse_url))
    console.print(f"{len(applied)} migration(s) applied" if applied else "warehouse is up to date")
    AccountsDB(settings.accounts_db_url).create_schema()  # idempotent
    console.print("accounts store is up to date")


def _connect_with_retry(url: str, attempts: int = 30) -> Warehouse:
    """A server may still be starting (containers start together): retry for a while."""
    for attempt in range(1, attempts + 1):
        try:
            warehouse = connect(url)
            if warehouse.ping():
                return warehouse
        except WarehouseError as exc:
            if attempt == attempts:
                raise
            log.info("warehouse not reachable yet (%s); retrying", exc)
        time.sleep(2)
    raise WarehouseError(f"warehouse at {url.split('@')[-1]} did not answer")


@app.command()
def sink() -> None:
    """Run the warehouse sink alone (for a ClickHouse server; embedded, `serve` runs it)."""
    from infra.warehouse.sink import WarehouseSink

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.require_bootstrap()
    asyncio.run(ensure_topics(bootstrap))
    metrics.serve(settings.metrics.sink_port, settings.metrics.host)
    warehouse = connect(settings.warehouse_url)
    accounts = AccountsDB(settings.accounts_db_url)  # privacy modes: read, never written here
    worker = WarehouseSink(
        warehouse,
        bootstrap,
        batch_size=settings.sink.batch_size,
        flush_interval=settings.sink.flush_interval,
        privacy=PrivacyRegistry(accounts, ttl=settings.accounts.privacy_refresh),
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        beat = asyncio.create_task(heartbeat(settings.heartbeat_file))
        try:
            await worker.run(settings.metrics.lag_interval)
        finally:
            beat.cancel()

    asyncio.run(main())


@schemas_app.command("export")
def export_schemas(directory: Path) -> None:
    """Write JSON Schema for every record, and the topic catalogue, into DIRECTORY."""
    from infra.schema_export import export

    for path in export(directory):
        console.print(f"wrote {path}")


def add_commands(root: typer.Typer, group: str, commands: typer.Typer) -> None:
    """Put `commands` under `modstream GROUP`, merged with what another package put there (e.g.
    `bench pipeline` from streams/ and `bench api` from api/), whichever registers first."""
    for info in root.registered_groups:
        if info.name == group and info.typer_instance is not None:
            info.typer_instance.registered_commands.extend(commands.registered_commands)
            return
    root.add_typer(commands, name=group)


def main() -> None:
    from infra.bench.chaos import chaos

    bench = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
    bench.command("chaos")(chaos)
    add_commands(app, "bench", bench)
    for entry in entry_points(group="modstream.commands"):
        entry.load()(app)
    try:
        app()
    except ModstreamError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
