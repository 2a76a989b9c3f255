"""Verdicts that exercise reads by id (replays, re-judged items, reuses, two tenants), and the
reads of `verdicts FINAL` that the copies ordered by event must agree with.

`python -m tests.support.point_reads PATH` builds a warehouse at PATH as it stood before
migration 0011, stores the verdicts, upgrades it, and prints both reads as JSON: chdb opens one
database path per process, so an upgrade from an older schema runs in a process of its own.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from api.queries import get_verdict, reused_by, verdict_from_row
from api.read.verdict import get_verdict_detail
from infra.warehouse import Warehouse, connect, migrate
from infra.warehouse.migrate import available
from schemas.rows import VERDICT_ROWS
from tests.support.read_rows import store, verdict_row

BY_EVENT = 11
"""The migration that added `verdicts_by_event` and `verdict_reuses`."""

IDS = ["v1", "v2", "v3", "v4", "v5", "v6", "nowhere"]


def store_scenario(warehouse: Warehouse, tenant: str, other: str) -> None:
    """v1 reused by v2 and v3; v4 stored twice; v5 reused v1, then was re-judged on its own;
    v6 re-judged to another decision. `other` has its own v1, reused by its own v2."""
    store(warehouse, [
        verdict_row(tenant, "v1", minutes=0, toxic=0.9, scores={"toxic": 0.9, "insult": 0.7}),
        verdict_row(tenant, "v2", minutes=1, toxic=0.9, duplicate_of="v1"),
        verdict_row(tenant, "v3", minutes=2, toxic=0.9, duplicate_of="v1", author="bob"),
        verdict_row(tenant, "v4", minutes=3, toxic=0.4),
        verdict_row(tenant, "v5", minutes=4, toxic=0.9, duplicate_of="v1"),
        verdict_row(tenant, "v6", minutes=5, toxic=0.1),
    ])  # fmt: skip
    store(warehouse, [verdict_row(tenant, "v4", minutes=3, toxic=0.4)])  # a replay
    store(warehouse, [  # re-judged an hour later
        verdict_row(tenant, "v5", minutes=4, toxic=0.3, judged_after_s=3600),
        verdict_row(tenant, "v6", minutes=5, toxic=0.95, judged_after_s=3600),
    ])  # fmt: skip
    store(warehouse, [
        verdict_row(other, "v1", minutes=7, toxic=0.05, author="zed"),
        verdict_row(other, "v2", minutes=8, toxic=0.05, duplicate_of="v1", author="zed"),
    ])  # fmt: skip


_COLUMNS = ", ".join(VERDICT_ROWS.columns)


def reference_verdict(warehouse: Warehouse, tenant: str, event_id: str) -> dict[str, Any] | None:
    """The verdict as `verdicts FINAL` holds it (a scan by id, whatever the cost)."""
    rows = warehouse.rows(
        f"SELECT {_COLUMNS} FROM verdicts FINAL "
        "WHERE tenant = {tenant:String} AND event_id = {event_id:String}",
        {"tenant": tenant, "event_id": event_id},
    )
    assert len(rows) <= 1, rows
    return verdict_from_row(rows[0]).model_dump(mode="json") if rows else None


def reference_reused_by(warehouse: Warehouse, tenant: str, event_id: str) -> list[str]:
    rows = warehouse.rows(
        "SELECT event_id FROM verdicts FINAL WHERE tenant = {tenant:String} "
        "AND duplicate_of = {event_id:String} ORDER BY occurred_at, event_id",
        {"tenant": tenant, "event_id": event_id},
    )
    return [r["event_id"] for r in rows]


def reference_text(warehouse: Warehouse, tenant: str, event_id: str) -> str | None:
    rows = warehouse.rows(
        "SELECT text FROM events FINAL WHERE tenant = {tenant:String} "
        "AND event_id = {event_id:String}",
        {"tenant": tenant, "event_id": event_id},
    )
    return rows[0]["text"] if rows else None


def reads(warehouse: Warehouse, tenant: str) -> dict[str, Any]:
    """Per id: the verdict and its reuses, read through the copies and read from `verdicts`;
    the verdict in full (one statement over the copies) and as `verdicts` and `events` say."""
    out: dict[str, Any] = {}
    for event_id in IDS:
        verdict = get_verdict(warehouse, tenant, event_id)
        detail = get_verdict_detail(warehouse, tenant, event_id)
        reference = reference_verdict(warehouse, tenant, event_id)
        reference_reuses = reference_reused_by(warehouse, tenant, event_id)
        out[event_id] = {
            "verdict": verdict.model_dump(mode="json") if verdict else None,
            "reused_by": reused_by(warehouse, tenant, event_id),
            "detail": detail.model_dump(mode="json") if detail else None,
            "reference_verdict": reference,
            "reference_reused_by": reference_reuses,
            "reference_detail": reference
            and reference
            | {
                "text": reference_text(warehouse, tenant, event_id),
                "reused_by": reference_reuses,
                "moderation": None,  # no reviewer decided any of them
                "visible_after": None,  # and no rule held any
            },
        }
    return out


def main(path: str) -> None:
    warehouse = connect(f"chdb://{path}")
    warehouse.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    for migration in available():
        if migration.version < BY_EVENT:
            for statement in migration.statements():
                warehouse.command(statement)
            warehouse.insert(
                "schema_migrations", [[migration.version, migration.name]], ["version", "name"]
            )
    store_scenario(warehouse, "upgraded", "upgraded-other")
    applied = [m.version for m in migrate(warehouse)]
    print(json.dumps({
        "applied": applied,
        "tenant": reads(warehouse, "upgraded"),
        "other": reads(warehouse, "upgraded-other"),
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
