"""Statements of reasons in the Transparency Database's format, and the transparency summary, read
from the warehouse's copy of `moderation.actions` and from the verdicts.

A statement is owed for each restriction: every reviewer's removal, upheld removal and label,
and every rejection by the models (`api/review/automated.py`). A batch gives reviewers'
decisions first (by action id, `act_…`), then the models' (by `verdict:<event id>`), so one
key continues either. Mapping of a reviewer's decision: a reported item was notified under
Art. 16 (`SOURCE_ARTICLE_16`), anything else is the platform's own initiative
(`SOURCE_VOLUNTARY`); `automated_detection` is whether the models flagged the item; a reviewer
decided, so `automated_decision` is `NOT_AUTOMATED`. The platform's unique id (`puid`) is
`<tenant>:<action id>`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.review import automated
from api.review.automated import ModeOf
from api.review.grounds import ground_fields
from infra.warehouse import Warehouse
from schemas.moderation import REASONS, ActionKind, Reason

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


def statement(
    tenant: str, row: dict[str, Any], reasons: Mapping[str, Reason] = REASONS
) -> dict[str, Any]:
    """One action as a statement of reasons; `reasons` is the tenant's taxonomy (a code it no
    longer has reads as `other`; the category is the one the action was decided with)."""
    reason = reasons.get(row["reason"], REASONS["other"])
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
    doc |= ground_fields(reason, facts)
    return doc


def statements(
    warehouse: Warehouse,
    tenant: str,
    period: tuple[datetime, datetime],
    limit: int,
    after: str,
    mode_of: ModeOf,
    reasons: Mapping[str, Reason] = REASONS,
) -> tuple[list[dict[str, Any]], str | None]:
    """A batch of statements for restrictions decided in [since, until), reviewers' then the
    models', after the key `after` (the previous batch's `next`), and the key to continue
    after (None at the end)."""
    since, until = period
    found: list[tuple[str, dict[str, Any]]] = []
    if not after.startswith(automated.PREFIX):
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
        found = [(r["action_id"], statement(tenant, r, reasons)) for r in rows]
    if len(found) <= limit:
        rejected = automated.rejections(
            warehouse, tenant, since, until, limit + 1 - len(found),
            after.removeprefix(automated.PREFIX) if after.startswith(automated.PREFIX) else "",
        )  # fmt: skip
        found += [
            (automated.PREFIX + r["event_id"], automated.statement(tenant, r, mode_of(r["kind"])))
            for r in rejected
        ]
    page = found[:limit]
    following = page[-1][0] if len(found) > limit else None
    return [doc for _, doc in page], following


class Summary(BaseModel):
    """Counts for a transparency report over a period."""

    decisions: int = Field(description="Reviewer decisions (every action).")
    restrictions: int = Field(
        description="Every restriction with a statement of reasons: reviewers' removals, "
        "upheld removals and labels, and the models' rejections."
    )
    human_restrictions: int = Field(
        description="Restrictions a person decided (`AUTOMATED_DECISION_NOT_AUTOMATED`)."
    )
    automated_restrictions: int = Field(
        description="Rejections by the models alone (`AUTOMATED_DECISION_FULLY`)."
    )
    by_category: dict[str, int] = Field(description="Restrictions per DSA category, both kinds.")
    by_action: dict[str, int] = Field(description="Reviewer decisions per action.")
    automated_detection: int = Field(
        description="Restrictions of items the models flagged (`automated_detection` Yes): "
        "every automated one, and people's decisions on items the models sent them."
    )
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
    rejected = automated.counts_by_reason(warehouse, tenant, since, until)
    for reason, n in rejected.items():
        category = REASONS[reason].dsa_category
        by_category[category] = by_category.get(category, 0) + n
    models = sum(rejected.values())
    for r in rows:
        by_action[r["action"]] = by_action.get(r["action"], 0) + 1
    flagged = sum(1 for r in restricted if r["model_decision"] in ("review", "reject"))
    waits = [float(r["waited"]) for r in rows]
    return Summary(
        decisions=len(rows), restrictions=len(restricted) + models,
        human_restrictions=len(restricted), automated_restrictions=models,
        by_category=by_category, by_action=by_action, automated_detection=flagged + models,
        human_only=len(restricted) - flagged,
        from_reports=sum(1 for r in rows if r["origin"] == "report"), reports=reports,
        appeals=by_action.get("uphold", 0) + by_action.get("overturn", 0),
        overturned=by_action.get("overturn", 0),
        median_seconds_to_decision=statistics.median(waits) if waits else None,
    )  # fmt: skip
