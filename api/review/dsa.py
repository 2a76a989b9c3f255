"""Statements of reasons in the Transparency Database's format, and the transparency summary, read
from the warehouse's copy of `moderation.actions`.

A statement is owed for each restriction: here every reviewer's removal, upheld removal and
label. Mapping: a reported item was notified under Art. 16 (`SOURCE_ARTICLE_16`), anything else
is the platform's own initiative (`SOURCE_VOLUNTARY`); `automated_detection` is whether the models
flagged the item; a reviewer decided, so `automated_decision` is `NOT_AUTOMATED`. The platform's
unique id (`puid`) is `<tenant>:<action id>`.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from infra.warehouse import Warehouse
from schemas.moderation import REASONS, ActionKind

RESTRICTIONS = (ActionKind.REMOVE.value, ActionKind.UPHOLD.value, ActionKind.LABEL.value)
_VISIBILITY = {
    ActionKind.REMOVE.value: "DECISION_VISIBILITY_CONTENT_REMOVED",
    ActionKind.UPHOLD.value: "DECISION_VISIBILITY_CONTENT_REMOVED",
    ActionKind.LABEL.value: "DECISION_VISIBILITY_CONTENT_LABELLED",
}
_COLUMNS = (
    "action_id, event_id, item_id, kind, occurred_at, action, reason, dsa_category, note, "
    "decided_at, origin, model_decision, reports"
)


def statement(tenant: str, row: dict[str, Any]) -> dict[str, Any]:
    """One action as a statement of reasons."""
    reason = REASONS.get(row["reason"], REASONS["other"])
    facts = (
        f"The {row['kind'].replace('_', ' ')} {row['item_id']} was "
        f"{'labelled' if row['action'] == 'label' else 'removed'} by a reviewer for: "
        f"{reason.title}."
    )
    doc: dict[str, Any] = {
        "decision_visibility": [_VISIBILITY[row["action"]]],
        "content_type": ["CONTENT_TYPE_TEXT"] if row["kind"] != "media" else ["CONTENT_TYPE_OTHER"],
        "category": row["dsa_category"],
        "content_date": f"{row['occurred_at']:%Y-%m-%d}",
        "application_date": f"{row['decided_at']:%Y-%m-%d}",
        "decision_facts": facts,
        "source_type": "SOURCE_ARTICLE_16" if row["reports"] else "SOURCE_VOLUNTARY",
        "automated_detection": "Yes" if row["model_decision"] in ("review", "reject") else "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": f"{tenant}:{row['action_id']}",
    }
    if row["kind"] == "media":
        doc["content_type_other"] = "image or video"
    if reason.ground == "illegal":
        doc["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        doc["illegal_content_legal_ground"] = f"Law applicable to {reason.title.lower()}"
        doc["illegal_content_explanation"] = facts
    else:
        doc["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        doc["incompatible_content_ground"] = f"Terms of service: {reason.title}"
        doc["incompatible_content_explanation"] = facts
    return doc


def statements(
    warehouse: Warehouse, tenant: str, since: datetime, until: datetime, limit: int, after: str
) -> tuple[list[dict[str, Any]], str | None]:
    """A batch of statements for restrictions decided in [since, until), ordered by action id
    after `after` (the previous batch's last), and the id to continue after."""
    rows = warehouse.rows(
        f"SELECT {_COLUMNS} FROM moderation_actions FINAL "  # noqa: S608 - constant columns
        "WHERE tenant = {tenant:String} AND action IN {actions:Array(String)} "
        "AND decided_at >= {since:DateTime64(3, 'UTC')} "
        "AND decided_at < {until:DateTime64(3, 'UTC')} AND action_id > {after:String} "
        "ORDER BY action_id LIMIT {limit:UInt32}",
        {
            "tenant": tenant, "actions": list(RESTRICTIONS), "since": since, "until": until,
            "after": after, "limit": limit + 1,
        },
    )  # fmt: skip
    page = rows[:limit]
    following = page[-1]["action_id"] if len(rows) > limit else None
    return [statement(tenant, r) for r in page], following


class Summary(BaseModel):
    """Counts for a transparency report over a period."""

    decisions: int = Field(description="Reviewer decisions (every action).")
    restrictions: int = Field(description="Removals, upheld removals and labels.")
    by_category: dict[str, int] = Field(description="Restrictions per DSA category.")
    by_action: dict[str, int]
    automated_detection: int = Field(description="Restrictions of items the models flagged.")
    human_only: int = Field(description="Restrictions of items only people flagged.")
    from_reports: int = Field(description="Decisions on reported items.")
    reports: int = Field(description="Reports received in the period.")
    appeals: int = Field(description="Appeals decided in the period.")
    overturned: int = Field(description="Appeals granted.")
    median_seconds_to_decision: float | None = Field(
        description="From entering review to the decision."
    )


def summary(
    warehouse: Warehouse, tenant: str, since: datetime, until: datetime, reports: int
) -> Summary:
    rows = warehouse.rows(
        "SELECT action, dsa_category, origin, model_decision, "
        "dateDiff('millisecond', enqueued_at, decided_at) / 1000 AS waited "
        "FROM moderation_actions FINAL WHERE tenant = {tenant:String} "
        "AND decided_at >= {since:DateTime64(3, 'UTC')} "
        "AND decided_at < {until:DateTime64(3, 'UTC')}",
        {"tenant": tenant, "since": since, "until": until},
    )
    restricted = [r for r in rows if r["action"] in RESTRICTIONS]
    by_category: dict[str, int] = {}
    by_action: dict[str, int] = {}
    for r in restricted:
        by_category[r["dsa_category"]] = by_category.get(r["dsa_category"], 0) + 1
    for r in rows:
        by_action[r["action"]] = by_action.get(r["action"], 0) + 1
    flagged = sum(1 for r in restricted if r["model_decision"] in ("review", "reject"))
    waits = [float(r["waited"]) for r in rows]
    return Summary(
        decisions=len(rows), restrictions=len(restricted), by_category=by_category,
        by_action=by_action, automated_detection=flagged, human_only=len(restricted) - flagged,
        from_reports=sum(1 for r in rows if r["origin"] == "report"), reports=reports,
        appeals=by_action.get("uphold", 0) + by_action.get("overturn", 0),
        overturned=by_action.get("overturn", 0),
        median_seconds_to_decision=statistics.median(waits) if waits else None,
    )  # fmt: skip
