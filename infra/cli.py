"""The `modstream` command. Its root lives here; streams/, producers/ and api/ add their own
subcommands through the `modstream.commands` entry points, so infra never imports them."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from infra.accounts import AccountsDB, PrivacyRegistry
from infra.broker import EmbeddedBroker
from infra.errors import ModstreamError, WarehouseError
from infra.kafka import ensure_topics
from infra.logging import configure_logging, heartbeat
from infra.settings import get_settings
from infra.supervisor import Supervisor, modstream_argv
from infra.warehouse import Warehouse, connect

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
    """Start everything on this machine: broker, worker, API + warehouse sink; feed samples."""
    settings = get_settings()
    configure_logging(settings.log_level)
    broker = None
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        broker = EmbeddedBroker(settings.data_dir / "logs").start()
        bootstrap = broker.bootstrap
    asyncio.run(ensure_topics(bootstrap))
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    supervisor = Supervisor({"MODSTREAM_KAFKA_BOOTSTRAP": bootstrap})
    stop = _stop_on_signals()
    code = 0
    token_file = settings.data_dir / "dev-token"
    token = None
    try:
        _step(supervisor, stop, "train", modstream_argv("train", "--if-missing"))
        AccountsDB(settings.accounts_db_url).create_schema()  # the workers read policies there
        if settings.env == "development":  # never elsewhere: a known token is a known door
            argv = modstream_argv("admin", "dev-bootstrap", "--write", str(token_file))
            if _step(supervisor, stop, "bootstrap", argv) != 0:
                raise ModstreamError("could not create the development tenant and token")
            token = token_file.read_text().strip()
        supervisor.spawn("worker", modstream_argv("worker"))
        supervisor.spawn("strikes", modstream_argv("strikes"))
        supervisor.spawn("chat", modstream_argv("chat"))
        supervisor.spawn("assist", modstream_argv("assist"))
        if settings.x_client_id:  # X ingestion is configured: poll the connected accounts
            supervisor.spawn("x-poll", modstream_argv("x-poll"))
        supervisor.spawn("api", modstream_argv("serve"))
        _wait_healthy(api_url, supervisor, stop)
        if samples and token:
            supervisor.spawn(
                "samples",
                modstream_argv("produce", "samples", "--api", api_url, "--token-file",
                               str(token_file)),
            )  # fmt: skip
        _banner(api_url, bootstrap, settings.data_dir, token)
        while not stop.is_set():
            failed = supervisor.exited()
            if failed and failed.name != "samples":
                log.error("%s exited with code %s; stopping", failed.name, failed.proc.returncode)
                code = 1
                break
            if failed:
                supervisor.children.remove(failed)
            stop.wait(0.5)
    except _Stopped:
        pass
    except ModstreamError as exc:
        console.print(f"[red]error:[/] {exc}")
        code = 1
    finally:
        console.print("stopping…")
        supervisor.stop_all()
        if broker:
            broker.stop()
        console.print("stopped.")
    raise typer.Exit(code)


class _Stopped(ModstreamError):
    """Ctrl-C or SIGTERM during a start-up step."""


def _step(supervisor: Supervisor, stop: _Flag, name: str, argv: list[str]) -> int:
    """Run one start-up step to its end (its exit code), or stop it when we are asked to stop."""
    child = supervisor.spawn(name, argv)
    while child.proc.poll() is None:
        if stop.is_set():
            raise _Stopped(f"interrupted during {name}")
        stop.wait(0.2)
    supervisor.children.clear()
    return child.proc.returncode


def _stop_on_signals() -> _Flag:
    flag = _Flag()
    for sig in (signal.SIGINT, signal.SIGTERM):
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


def _wait_healthy(api_url: str, supervisor: Supervisor, stop: _Flag, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        failed = supervisor.exited()
        if failed:
            raise ModstreamError(f"{failed.name} exited with code {failed.proc.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.5)
    if not stop.is_set():
        raise ModstreamError(f"the API did not become healthy within {timeout:.0f}s")


def _banner(api_url: str, bootstrap: str, data_dir: Path, token: str | None) -> None:
    console.rule("[bold green]Modstream is up")
    console.print(f"  API docs      {api_url}/docs")
    console.print(f"  Health        {api_url}/health")
    settings = get_settings()
    console.print(f"  Chat          ws://{settings.chat_host}:{settings.chat_port}/socket.io/")
    console.print(f"  A verdict     {api_url}/v1/verdicts/sample-en-1")
    if token:
        console.print(f"  Dev token     {token}  (tenant demo; also in {data_dir / 'dev-token'})")
        console.print(
            f'  Try           curl -H "Authorization: Bearer $(cat {data_dir / "dev-token"})" '
            f"{api_url}/v1/verdicts/sample-en-1"
        )
    else:
        console.print("  Accounts      see README: modstream admin create-tenant / create-token")
    console.print(f"  Kafka         {bootstrap}  (topics: events.text, verdicts.text, …)")
    console.print(f"  Data          {data_dir.resolve()}")
    console.print("  Press Ctrl-C to stop.")
    console.rule()


@app.command()
def broker() -> None:
    """Run the embedded broker alone, in the foreground (prints its bootstrap address)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    with EmbeddedBroker(settings.data_dir / "logs") as running:
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
    warehouse = connect(settings.warehouse_url)
    accounts = AccountsDB(settings.accounts_db_url)  # privacy modes: read, never written here
    worker = WarehouseSink(
        warehouse,
        bootstrap,
        batch_size=settings.sink_batch_size,
        flush_interval=settings.sink_flush_interval,
        privacy=PrivacyRegistry(accounts, ttl=settings.privacy_refresh),
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        beat = asyncio.create_task(heartbeat(settings.heartbeat_file))
        try:
            await worker.run()
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
    for entry in entry_points(group="modstream.commands"):
        entry.load()(app)
    try:
        app()
    except ModstreamError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
