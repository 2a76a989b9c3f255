"""Benchmark figures read anywhere: whole headers when piped, raw numbers as JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from infra.report import PIPED_WIDTH, Column, Figures, emit, figures_console, number


def _figures() -> Figures:
    figures = Figures(
        "bench",
        [Column("scenario"), Column("throughput/s", number(), key="throughput_per_s"),
         Column("p99 ms", number(1))],
    )  # fmt: skip
    figures.add("throughput", np.float64(1464.4), float("nan"))
    figures.add("latency", 974, 809.04)
    figures.notes.append("In-process ceiling: 4,100 events/s")
    figures.facts["in_process_per_s"] = np.float64(4100.0)
    return figures


WIDE = [f"{name} per second" for name in ("offered", "accepted", "judged", "published", "stored")]


def _wide() -> Figures:
    figures = Figures("wide", [Column("scenario"), *(Column(n, number()) for n in WIDE)])
    figures.add("throughput", *range(1_000_000, 1_000_005))
    return figures


def test_piped_tables_keep_their_headers(capsys: pytest.CaptureFixture[str]) -> None:
    narrow = Console(file=io.StringIO(), width=80)  # what rich gives a pipe by default
    narrow.print(_wide().table())
    assert "…" in narrow.file.getvalue()  # type: ignore[attr-defined]

    console = figures_console()  # stdout is captured here: not a terminal
    assert console.width == PIPED_WIDTH
    emit([_wide(), _figures()], as_json=False, console=console)
    out = capsys.readouterr().out
    assert "…" not in out
    for header in [*WIDE, "throughput/s", "p99 ms"]:
        assert header in out
    assert "1,464" in out
    assert "809.0" in out
    assert "–" in out  # NaN: nothing measured
    assert "In-process ceiling: 4,100 events/s" in out


def test_json_has_raw_numbers_and_facts(capsys: pytest.CaptureFixture[str]) -> None:
    emit([_figures()], as_json=True)
    [doc] = json.loads(capsys.readouterr().out)
    assert doc["title"] == "bench"
    assert doc["rows"] == [
        {"scenario": "throughput", "throughput_per_s": 1464.4, "p99_ms": None},
        {"scenario": "latency", "throughput_per_s": 974, "p99_ms": 809.04},
    ]
    assert doc["in_process_per_s"] == 4100.0
    assert doc["notes"] == ["In-process ceiling: 4,100 events/s"]


def test_a_row_must_fill_every_column() -> None:
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        _figures().add("short", 1)
