"""`modstream produce …`: put events onto the topics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from producers.samples import feed, sample_events

produce_app = typer.Typer(help="Put events onto the topics.", no_args_is_help=True)
console = Console(stderr=True)


@produce_app.command("samples")
def samples(
    api: Annotated[str, typer.Option(help="The API's base URL.")] = "http://127.0.0.1:8000",
) -> None:
    """Feed the bundled sample events (English and Arabic posts and chat) through the API."""
    events = sample_events()
    accepted = feed(api, events)
    console.print(f"fed {accepted} sample events; e.g. {api}/v1/verdicts/{events[0]['event_id']}")


def register(app: typer.Typer) -> None:
    app.add_typer(produce_app, name="produce")
