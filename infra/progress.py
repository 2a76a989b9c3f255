"""The progress bar of long commands (training, benchmarks, backfills): what, how far, how long."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def task_bar(console: Console, *, transient: bool = True, enabled: bool = True) -> Progress:
    """One line per task: its description, a bar, done/total and the time elapsed."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        disable=not enabled,
    )
