"""`modstream produce …`: put events onto the topics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from producers.samples import feed, sample_events

produce_app = typer.Typer(help="Put events onto the topics.", no_args_is_help=True)
console = Console(stderr=True)


@produce_app.command("samples")
def samples(
    api: Annotated[str, typer.Option(help="The API's base URL.")] = "http://127.0.0.1:8000",
    token_file: Annotated[
        Path | None, typer.Option(help="A file holding the token (e.g. <data dir>/dev-token).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Send as this tenant [the samples'].")] = None,
) -> None:
    """Feed the bundled sample events (English and Arabic posts and chat) through the API.

    The token (scope `ingest`) comes from MODSTREAM_TOKEN or --token-file."""
    token = os.environ.get("MODSTREAM_TOKEN") or (
        token_file.read_text().strip() if token_file else ""
    )
    if not token:
        raise typer.BadParameter("set MODSTREAM_TOKEN or pass --token-file")
    events = sample_events()
    if tenant:
        for event in events:
            event["tenant"] = tenant
    accepted = feed(api, events, token)
    console.print(f"fed {accepted} sample events; e.g. {api}/v1/verdicts/{events[0]['event_id']}")


def chat(
    host: Annotated[str | None, typer.Option(help="[default: MODSTREAM_CHAT_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="[default: MODSTREAM_CHAT_PORT]")] = None,
) -> None:
    """Run the chat gateway (Socket.IO): users connect with their login JWT."""
    from datetime import timedelta

    import uvicorn

    from infra.accounts import AccountsDB
    from infra.logging import configure_logging
    from infra.settings import get_settings
    from producers.chat.gateway import ChatGateway

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.require_bootstrap()
    accounts = AccountsDB(settings.accounts_db_url)
    accounts.create_schema()
    gateway = ChatGateway(
        settings.chat, settings.accounts, bootstrap, accounts,
        appeal_window=timedelta(seconds=settings.review.appeal_window),
    )  # fmt: skip
    uvicorn.run(
        gateway.asgi,
        host=host or settings.chat.host,
        port=port or settings.chat.port,
        log_level=settings.log_level.lower(),
        ws="wsproto",
    )


def x_poll(
    rounds: Annotated[int | None, typer.Option(help="Stop after N rounds [until stopped].")] = None,
) -> None:
    """Poll connected X accounts' home timelines; publish new tweets as posts (docs/x.md)."""
    import asyncio
    import signal

    from infra.accounts import AccountsDB
    from infra.errors import ConfigError
    from infra.logging import configure_logging
    from infra.settings import get_settings
    from infra.x import TokenCipher
    from producers.x.poller import XPoller

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.require_bootstrap()
    if not settings.x.client_id:
        raise ConfigError("MODSTREAM_X_CLIENT_ID is not set: X ingestion is off")
    accounts = AccountsDB(settings.accounts_db_url)
    accounts.create_schema()
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    poller = XPoller(settings.x, accounts, bootstrap, cipher, settings.heartbeat_file)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, poller.stop)
        await poller.run(rounds=rounds)

    try:
        asyncio.run(main())
    finally:
        accounts.close()


def register(app: typer.Typer) -> None:
    from infra.cli import add_commands
    from producers.bench.chat import bench_chat

    app.add_typer(produce_app, name="produce")
    app.command()(chat)
    bench = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
    bench.command("chat")(bench_chat)
    add_commands(app, "bench", bench)
    app.command("x-poll")(x_poll)
