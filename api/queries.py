"""Warehouse queries of the API. Every value is a bound parameter, never formatted into SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.warehouse import Warehouse
from schemas.records import Verdict

_VERDICT_COLUMNS = (
    "event_id, tenant, source, kind, item_id, author, occurred_at, judged_at, decision, toxic, "
    "scores, lang, spans, model_version, policy_version, duplicate_of, latency_ms"
)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def verdict_from_row(row: dict[str, Any]) -> Verdict:
    row["occurred_at"] = _utc(row["occurred_at"])
    row["judged_at"] = _utc(row["judged_at"])
    row["spans"] = [tuple(s) for s in row["spans"]]
    row["toxic"] = min(1.0, max(0.0, float(row["toxic"])))
    row["scores"] = {k: min(1.0, max(0.0, float(v))) for k, v in row["scores"].items()}
    return Verdict.model_validate(row)


def get_verdict(warehouse: Warehouse, tenant: str, event_id: str) -> Verdict | None:
    rows = warehouse.rows(
        f"SELECT {_VERDICT_COLUMNS} FROM verdicts FINAL "  # noqa: S608 - a constant, no input
        "WHERE tenant = {tenant:String} AND event_id = {event_id:String} LIMIT 1",
        {"tenant": tenant, "event_id": event_id},
    )
    return verdict_from_row(rows[0]) if rows else None
