"""`modstream serve`: the API (and, with an embedded warehouse, the warehouse sink)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.logging import configure_logging
from infra.settings import get_settings


def serve(
    sink: Annotated[
        bool | None,
        typer.Option("--sink/--no-sink", help="Run the warehouse sink here [default: if embedded]"),
    ] = None,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings, run_sink=sink)
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,  # keep our logging set-up
        access_log=False,
    )


def register(app: typer.Typer) -> None:
    from api.admin_cli import admin_app
    from api.bench.read import bench_api
    from api.bench.review import bench_review
    from api.deadletters_cli import deadletters_app
    from infra.cli import add_commands

    app.command()(serve)
    app.add_typer(admin_app, name="admin")
    app.add_typer(deadletters_app, name="deadletters")
    bench = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
    bench.command("api")(bench_api)
    bench.command("review")(bench_review)
    add_commands(app, "bench", bench)
