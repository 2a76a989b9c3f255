"""One verdict in full, as `GET /v1/verdicts/{id}` and the console's item page read it.

One statement: the item's key range of `verdict_details` (migration 0015), a narrow copy that
holds the verdict as JSON, the event's text, the events that reused its scores and the
reviewers' actions, one row each. Embedded ClickHouse spends 3-7 ms of CPU on any statement,
so the number of statements is what a read by id costs (docs/performance.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field

from api.queries import MAX_DUPLICATES, reused_by
from api.read.moderation import Moderated
from infra.delivery import visible_after
from infra.warehouse import Warehouse
from schemas.records import Verdict
from schemas.rows import VERDICT_ROWS


class VerdictDetail(Verdict, Moderated):
    """A verdict with the judged text, its duplicate matches in both directions, the
    reviewers' decision and the end of a rule's hold."""

    text: str | None = Field(default=None, description="The judged text, from the event.")
    reused_by: list[str] = Field(
        default_factory=list,
        description=f"Events that reused these scores (same content); at most {MAX_DUPLICATES}.",
    )
    visible_after: AwareDatetime | None = Field(
        default=None,
        description="When a live rule holds the item (`hold DURATION`): show it only from this "
        "time on (`judged_at` plus the longest hold); null when nothing holds it.",
    )


_ITEM = (
    # No FINAL: one key's rows are few, and `_newest` replaces them as FINAL would. Lazy
    # materialization off: reading columns in a second pass costs more than it saves on a
    # handful of rows (4.4 vs 5.8 ms of CPU per read over 10M verdicts).
    "SELECT part, ref, version, body FROM verdict_details "
    "WHERE tenant = {tenant:String} AND event_id = {event_id:String} "
    "SETTINGS max_threads = 1, query_plan_optimize_lazy_materialization = 0"
)
_TIMES = ("occurred_at", "judged_at")
"""The verdict's times, which JSON carries as text ('2026-01-01 00:00:00.000', UTC)."""


def _newest(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """One row per (part, ref): the newest `version`, as the copy's ReplacingMergeTree keeps."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["part"], row["ref"])
        if key not in newest or row["version"] > newest[key]["version"]:
            newest[key] = row
    return newest


def verdict_from_json(body: str) -> Verdict:
    """A verdict from the copy's JSON, as `verdict_from_row` makes it from `verdicts`' row."""
    row = json.loads(body)
    for name in _TIMES:
        row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=UTC)
    return VERDICT_ROWS.record(row)


def _moderation(actions: list[dict[str, Any]]) -> str | None:
    """The effect of the latest action that has one (`moderation.LATEST`, over these rows)."""
    effective = [a for a in actions if a["body"] != "none"]
    if not effective:
        return None
    latest = max(effective, key=lambda a: (a["version"], a["ref"]))
    return str(latest["body"]) or None


def get_verdict_detail(warehouse: Warehouse, tenant: str, event_id: str) -> VerdictDetail | None:
    rows = _newest(warehouse.rows(_ITEM, {"tenant": tenant, "event_id": event_id}))
    verdict = rows.get(("verdict", ""))
    if verdict is None:
        return None
    text = rows.get(("text", ""))
    # Candidates only: a reuser re-judged on its own no longer counts, which only its current
    # verdict says (one more statement, for the few items that were reused at all).
    reused = any(part == "reused_by" for part, _ in rows)
    judged = verdict_from_json(verdict["body"])
    return VerdictDetail(
        **judged.model_dump(),
        visible_after=visible_after(judged),
        text=text["body"] if text else None,
        reused_by=reused_by(warehouse, tenant, event_id) if reused else [],
        moderation=_moderation([r for (part, _), r in rows.items() if part == "action"]),
    )
