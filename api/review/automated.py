"""The models' own restrictions as statements of reasons: Art. 17 DSA owes one for every
restriction, fully automated ones included, not only for reviewers' decisions.

A model's `reject` restricts the item at once, before any person sees it: readers of a thread or
the receiver of a chat message get it withheld (`DECISION_VISIBILITY_CONTENT_REMOVED`), masked
(`DECISION_VISIBILITY_OTHER`) or flagged (`DECISION_VISIBILITY_CONTENT_LABELLED`) per the
tenant's delivery mode. So each rejection is a statement with `automated_detection` `Yes` and
`automated_decision` `AUTOMATED_DECISION_FULLY`, its `puid` `<tenant>:verdict:<event_id>`. A
reviewer's later decision on the same item is a statement of its own. A `review` decision
restricts nothing (the item is shown as written until someone decides): no statement.

The category comes from the scores, by the first label of `LABEL_REASONS` the item scored at
least 0.5 on; it is computed in the query (`REASON_SQL`), so the summary counts by category
without reading the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from api.review.grounds import ground_fields
from infra.delivery import Mode
from infra.warehouse import Warehouse
from schemas.moderation import REASONS

PREFIX = "verdict:"
"""Keys (and `puid`s) of automated statements; they sort after reviewers' `act_…` ids."""

LABEL_REASONS: dict[str, str] = {
    "threat": "threat",
    "violence": "threat",
    "identity_hate": "hate_speech",
    "sexual": "sexual",
    "nudity": "sexual",
    "self_harm": "self_harm",
    "harassment": "harassment",
    "severe_toxic": "insult",
    "insult": "insult",
    "obscene": "insult",
    "spam": "spam",
}
"""A model label and the taxonomy's reason for a rejection on it, the graver first."""

_SERIOUS = 0.5
REASON_SQL = (
    "multiIf("
    + "".join(
        f"scores['{label}'] >= {_SERIOUS}, '{reason}', " for label, reason in LABEL_REASONS.items()
    )
    + "kind = 'media', 'other', 'insult')"
)
"""The reason of a rejection, from its verdict's `scores` (toxic language in general: insult)."""

_VISIBILITY: dict[Mode, str] = {
    "withhold": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "mask": "DECISION_VISIBILITY_OTHER",
    "flag": "DECISION_VISIBILITY_CONTENT_LABELLED",
}
_DONE: dict[Mode, str] = {
    "withhold": "withheld from its readers",
    "mask": "shown to its readers with its harmful passages masked",
    "flag": "shown to its readers marked as flagged",
}
_COLUMNS = f"event_id, item_id, kind, occurred_at, judged_at, toxic, {REASON_SQL} AS reason"

ModeOf = Callable[[str], Mode]
"""The tenant's delivery mode for an item of this kind (chat messages have their own)."""


def statement(tenant: str, row: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """One model rejection as a statement of reasons."""
    reason = REASONS[row["reason"]]
    facts = (
        f"The {row['kind'].replace('_', ' ')} {row['item_id']} was {_DONE[mode]} automatically: "
        f"the moderation models rated it as {reason.title.lower()} (toxicity "
        f"{row['toxic']:.2f}), over the rejection threshold of the platform's policy."
    )
    doc: dict[str, Any] = {
        "decision_visibility": [_VISIBILITY[mode]],
        "content_type": ["CONTENT_TYPE_TEXT"] if row["kind"] != "media" else ["CONTENT_TYPE_OTHER"],
        "category": reason.dsa_category,
        "content_date": f"{row['occurred_at']:%Y-%m-%d}",
        "application_date": f"{row['judged_at']:%Y-%m-%d}",
        "decision_facts": facts,
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_FULLY",
        "puid": f"{tenant}:{PREFIX}{row['event_id']}",
    }
    doc |= ground_fields(reason, facts)
    if mode == "mask":
        doc["decision_visibility_other"] = "Harmful passages of the text masked for its readers."
    if row["kind"] == "media":
        doc["content_type_other"] = "image or video"
    return doc


_PERIOD = (
    "tenant = {tenant:String} AND decision = 'reject' "
    "AND judged_at >= {since:DateTime64(3, 'UTC')} AND judged_at < {until:DateTime64(3, 'UTC')} "
    "AND occurred_at < {until:DateTime64(3, 'UTC')}"
)  # judged after it was sent: the bound on the sort key prunes the parts after the period


def rejections(
    warehouse: Warehouse, tenant: str, since: datetime, until: datetime, limit: int, after: str
) -> list[dict[str, Any]]:
    """The model's rejections judged in [since, until), by event id after `after` (an event
    id), at most `limit`."""
    return warehouse.rows(
        f"SELECT {_COLUMNS} FROM verdicts FINAL WHERE {_PERIOD} "  # noqa: S608 - constants
        "AND event_id > {after:String} ORDER BY event_id LIMIT {limit:UInt32}",
        {"tenant": tenant, "since": since, "until": until, "after": after, "limit": limit},
    )


def counts_by_reason(
    warehouse: Warehouse, tenant: str, since: datetime, until: datetime
) -> dict[str, int]:
    """The model's rejections judged in [since, until), per reason: one grouped scan."""
    rows = warehouse.rows(
        f"SELECT {REASON_SQL} AS reason, count() AS n FROM verdicts FINAL "  # noqa: S608
        f"WHERE {_PERIOD} GROUP BY reason",
        {"tenant": tenant, "since": since, "until": until},
    )
    return {r["reason"]: int(r["n"]) for r in rows}
