"""Exports of judged items as CSV or NDJSON, streamed row by row as pages arrive."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from api.read.posts import JudgedItem

CSV_COLUMNS = (
    "event_id", "tenant", "source", "kind", "item_id", "author", "occurred_at", "judged_at",
    "decision", "toxic", "lang", "model_version", "policy_version", "duplicate_of", "latency_ms",
    "scores", "spans", "text",
)  # fmt: skip

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def ndjson(items: Iterable[JudgedItem]) -> Iterator[bytes]:
    for item in items:
        yield item.model_dump_json().encode() + b"\n"


def csv_rows(items: Iterable[JudgedItem]) -> Iterator[bytes]:
    """CSV with a header; `scores` and `spans` are JSON in their cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = item.model_dump(mode="json")
        row["scores"] = json.dumps(row["scores"], separators=(",", ":"))
        row["spans"] = json.dumps(row["spans"], separators=(",", ":"))
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
