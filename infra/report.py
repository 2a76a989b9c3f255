"""How benchmarks print their figures: tables for people, JSON for CI.

Rich fits a table into the console's width, and a console that is not a terminal (piped, logged,
in CI) is 80 columns wide: headers were cut to "thro…". `figures_console` gives such output room,
and `Figures` keeps the raw numbers, so the same run prints a table or, with `--json`, a document
a script can read.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

Format = Callable[[Any], str]

PIPED_WIDTH = 220


def figures_console(*, stderr: bool = False) -> Console:
    """A console for figures: the terminal's width, or room enough when piped or logged."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPED_WIDTH)


def number(digits: int = 0) -> Format:
    """Thousands separated, `digits` decimals; NaN (nothing measured) as a dash."""

    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:,.{digits}f}" if isinstance(value, int | float) else str(value)

    return fmt


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    fmt: Format = str
    key: str = ""  # the JSON key; the name in snake case by default

    @property
    def json_key(self) -> str:
        if self.key:
            return self.key
        return "".join(c if c.isalnum() else "_" for c in self.name.lower()).strip("_")


@dataclass
class Figures:
    """One table of a benchmark: its columns, rows of raw values, and notes printed under it."""

    title: str
    columns: Sequence[Column]
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # figures outside the table, for JSON

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        self.rows.append(values)

    def table(self) -> Table:
        table = Table(title=self.title)
        for i, column in enumerate(self.columns):
            table.add_column(column.name, justify="left" if i == 0 else "right", no_wrap=True)
        for row in self.rows:
            table.add_row(*(c.fmt(v) for c, v in zip(self.columns, row, strict=True)))
        return table

    def as_dict(self) -> dict[str, Any]:
        keys = [c.json_key for c in self.columns]
        rows = [dict(zip(keys, (_plain(v) for v in row), strict=True)) for row in self.rows]
        return {"title": self.title, "rows": rows, "notes": self.notes} | {
            k: _plain(v) for k, v in self.facts.items()
        }


def emit(figures: Sequence[Figures], *, as_json: bool, console: Console | None = None) -> None:
    """Print the tables and their notes, or one JSON document (a list of tables) on stdout."""
    if as_json:
        sys.stdout.write(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")
        return
    out = console or figures_console()
    for f in figures:
        out.print(f.table())
        for note in f.notes:
            out.print(note)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
