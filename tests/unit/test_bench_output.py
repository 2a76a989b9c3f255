"""Every benchmark prints one JSON document with `--json` and whole headers when piped.

The media bench runs for real at a tiny size; the others need a running stack or trained
models, so their tables are built here from measured-shaped inputs by the same functions.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from infra.report import Figures, emit, figures_console
from producers.bench.chat import ChatBenchResult, Sent
from producers.bench.chat import figures as chat_figures
from streams.bench.assist import figures as assist_figures
from streams.bench.pipeline import bench_app
from streams.bench.text import context_figures, longtext_figures

TINY_MEDIA = ["--images", "2", "--video-seconds", "1", "--size", "500", "--queries", "40",
              "--batch", "20"]  # fmt: skip


def _headers(figures: Figures) -> list[str]:
    return [c.name for c in figures.columns]


def _json(figures: Figures, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    emit([figures], as_json=True)
    [doc] = json.loads(capsys.readouterr().out)
    assert isinstance(doc, dict)
    return doc


def _piped(figures: Figures, capsys: pytest.CaptureFixture[str]) -> str:
    emit([figures], as_json=False, console=figures_console())  # captured: not a terminal
    out = capsys.readouterr().out
    assert "…" not in out
    for header in _headers(figures):
        assert header in out
    return out


def test_bench_media_json_is_one_document_on_stdout() -> None:
    result = CliRunner().invoke(bench_app, ["media", *TINY_MEDIA, "--json"])
    assert result.exit_code == 0, result.output
    [doc] = json.loads(result.stdout)
    measures = [row["measure"] for row in doc["rows"]]
    assert "image hashes/s, pdq" in measures
    assert "video-seconds/s hashed" in measures
    assert "PDQ new hash searchable after" in measures
    for row in doc["rows"]:
        assert set(row) == {"measure", "figure", "unit", "conditions"}
        assert isinstance(row["figure"], float)
        assert row["figure"] > 0


def test_bench_media_table_keeps_its_headers_when_piped() -> None:
    result = CliRunner().invoke(bench_app, ["media", *TINY_MEDIA])
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    for header in ("measure", "figure", "unit", "conditions", "pHash lookups/s, brute force"):
        assert header in result.stdout


def _assist() -> Figures:
    rng = np.random.default_rng(0)
    answers = [{"decision": "approve" if i % 4 else "review", "elapsed_ms": 3.0 + i % 5}
               for i in range(40)]  # fmt: skip
    results = [
        ("through the API", rng.uniform(5, 30, 40), answers),
        ("assist service alone", rng.uniform(3, 20, 40), answers),
    ]
    return assist_figures(results, 40, rng.uniform(1, 4, 40))


def test_bench_assist_json_has_every_target_and_the_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _json(_assist(), capsys)
    assert [(r["target"], r["drafts"], r["requests"]) for r in doc["rows"]] == [
        ("through the API", "all", 40),
        ("through the API", "not approved", 10),
        ("assist service alone", "all", 40),
        ("assist service alone", "not approved", 10),
        ("GET /v1/me (API floor)", "", 40),
    ]
    assert set(doc["rows"][0]) == {"target", "drafts", "requests", "p50_ms", "p95_ms", "p99_ms",
                                   "max_ms", "service_p95_ms"}  # fmt: skip
    assert doc["rows"][-1]["service_p95_ms"] is None  # the floor has no service time
    assert doc["target_met"] is True
    assert doc["target_p95_ms"] == 50.0
    assert doc["api_p95_ms"] == pytest.approx(doc["rows"][0]["p95_ms"])


def test_bench_assist_table_keeps_its_headers_when_piped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _piped(_assist(), capsys)
    assert "Target p95 <= 50 ms through the API: met" in out


def _chat() -> ChatBenchResult:
    result = ChatBenchResult(clients=4, offered_rate=50, send_seconds=2.0, span_seconds=2.5)
    for seq in range(100):
        outcome = "withheld" if seq % 10 == 0 else None if seq == 99 else "delivered"
        latency = 20.0 + seq if outcome == "delivered" else None
        result.messages[seq] = Sent(seq % 4, seq, outcome=outcome, latency_ms=latency)
    return result


def test_bench_chat_json_has_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(chat_figures(_chat(), 2), capsys)
    assert doc["sent"] == 100
    assert (doc["delivered"], doc["withheld"], doc["lost"]) == (89, 10, 1)
    assert doc["throughput_per_s"] == pytest.approx(99 / 2.5)
    assert doc["achieved_per_s"] == 50.0
    assert doc["p50_ms"] < doc["p95_ms"] <= doc["p99_ms"]
    assert len(doc["rows"]) == 12
    assert {row["unit"] for row in doc["rows"]} == {"msg/s", "", "ms"}


def test_bench_chat_table_keeps_its_headers_when_piped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _piped(chat_figures(_chat(), 2), capsys)
    assert "throughput (delivered or withheld)" in out


def _longtext() -> Figures:
    figures = longtext_figures(4, "en")
    figures.add(400, "sampled", 0.5, 1.0, 0.0, 12.34, 1.5)
    figures.add(400, "whole text", None, 0.5, 0.25, 50.0, 0.0)
    return figures


def test_bench_longtext_json_has_raw_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(_longtext(), capsys)
    assert doc["rows"][0] == {
        "words": 400, "how": "sampled", "transformer_share": 0.5, "recall": 1.0,
        "false_positive_rate": 0.0, "texts_per_s": 12.34, "windows_escalated_per_text": 1.5,
    }  # fmt: skip
    assert doc["rows"][1]["transformer_share"] is None


def test_bench_longtext_table_keeps_its_headers_when_piped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _piped(_longtext(), capsys)
    assert "50%" in out
    assert "12.3" in out


def _context() -> Figures:
    kinds = ["echo:1", "echo:1", "unseen:1", "alone:1", "echo:0", "alone:0"]
    methods = {
        "reply alone": [0.1, 0.9, 0.1, 0.1, 0.1, 0.1],
        "reply glued to its parent": [0.9, 0.9, 0.9, 0.9, 0.1, 0.1],
        "context judge": [0.9, 0.9, 0.1, 0.1, 0.1, 0.1],
    }
    return context_figures(kinds, methods, 0.75)


def test_bench_context_json_has_a_share_per_group_and_method(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _json(_context(), capsys)
    first = doc["rows"][0]
    assert first == {
        "group": "recall: echo of a toxic parent", "pairs": 2, "reply_alone": 0.5,
        "reply_glued_to_its_parent": 1.0, "context_judge": 1.0,
    }  # fmt: skip
    assert len(doc["rows"]) == 5
    assert doc["model_recall_on_parents"] == 0.75


def test_bench_context_table_keeps_its_headers_when_piped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _piped(_context(), capsys)
    assert "(the ceiling of any recall here)" in out
