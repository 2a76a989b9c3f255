"""Decisions and appeals: what a reviewer's decision does to its queue entry, the action record it
becomes, and the notices owed for it.

Who is told what: the author of an item removed (with the appeal deadline), of an appeal upheld
or overturned; every reporter of a reported item, of the outcome. An approval of an item only the
model flagged tells nobody (nothing happened to anyone).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.review import queues, taxonomy
from api.review.taxonomy import CODE
from infra.accounts.review import DECIDED, ReviewItem
from infra.errors import Conflict, Forbidden, InvalidInput, NotFound
from schemas.events import Kind
from schemas.moderation import (
    EFFECTS,
    ActionKind,
    Effect,
    ModerationAction,
    Notice,
    Origin,
    Reason,
    Recipient,
)

ITEM_ACTIONS = frozenset(
    {ActionKind.APPROVE, ActionKind.REMOVE, ActionKind.ESCALATE, ActionKind.LABEL}
)
APPEAL_ACTIONS = frozenset({ActionKind.UPHOLD, ActionKind.OVERTURN})


class DecisionIn(BaseModel):
    """A reviewer's decision on the item they hold."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action": "remove", "reason": "harassment", "note": "targets a user"}],
            # A `label` decision names its labels: stated here so the schema refuses what the
            # API does.
            "if": {"properties": {"action": {"const": "label"}}, "required": ["action"]},
            "then": {"properties": {"labels": {"minItems": 1}}, "required": ["labels"]},
        },
    )

    action: ActionKind = Field(
        description="`approve`, `remove`, `escalate` or `label` for an item; `uphold` or "
        "`overturn` for an appeal."
    )
    reason: str = Field(
        pattern=CODE,
        description="A code of the tenant's taxonomy (`GET /v1/review/reasons`): a default "
        "reason or one the tenant added.",
    )
    note: str = Field(default="", max_length=2_000, description="For the record, not the author.")
    labels: list[str] = Field(default_factory=list, max_length=16, description="For `label`.")
    queue: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$",
        description="For `escalate`: the queue to move it to (default `escalations`).",
    )  # fmt: skip


@dataclass(slots=True)
class Outcome:
    action: ModerationAction
    notices: list[Notice] = field(default_factory=list)


def _check(item: ReviewItem, decision: DecisionIn) -> None:
    allowed = APPEAL_ACTIONS if item.origin == Origin.APPEAL.value else ITEM_ACTIONS
    if decision.action not in allowed:
        what = "an appeal" if item.origin == Origin.APPEAL.value else "an item"
        raise Conflict(  # the entry's kind, not the body, rules it out: 409
            "invalid_action",
            f"{decision.action.value!r} is not a decision on {what}; use one of "
            f"{sorted(a.value for a in allowed)}",
        )
    if decision.action == ActionKind.LABEL and not decision.labels:
        raise InvalidInput("labels_required", "a `label` decision names at least one label")


def decide(
    session: Session,
    item: ReviewItem,
    decision: DecisionIn,
    *,
    reviewer: str,
    reporters: list[str],
    appeal_window: int,
    now: datetime,
) -> Outcome:
    """Decide the held `item`: update its entry and build the action and its notices (the caller
    publishes them before the session commits, so a failed publish leaves the entry open)."""
    _check(item, decision)
    reason = taxonomy.lookup(session, item.tenant, decision.reason)
    action = ModerationAction(
        action_id=f"act_{uuid.uuid4().hex}", tenant=item.tenant, event_id=item.event_id,
        item_id=item.item_id, author=item.author, source=item.source, kind=Kind(item.kind),
        occurred_at=item.occurred_at, action=decision.action, effect=EFFECTS[decision.action],
        reason=reason.code, dsa_category=reason.dsa_category, labels=decision.labels,
        note=decision.note, reviewer=reviewer, decided_at=now, origin=Origin(item.origin),
        reports=item.reports, model_decision=item.model_decision, appeal_of=item.appeal_of,
        enqueued_at=item.enqueued_at,
    )  # fmt: skip
    if decision.action == ActionKind.ESCALATE:
        item.queue = decision.queue or queues.ESCALATIONS
        item.claimed_by, item.lease_until = None, None
        return Outcome(action)
    item.state, item.decided_at, item.action_id = DECIDED, now, action.action_id
    item.decided_action = action.action.value
    item.lease_until = None  # `claimed_by` stays: the decider, whom an appeal excludes
    return Outcome(action, _notices(action, reason, item, reporters, appeal_window))


def _notices(
    action: ModerationAction,
    reason: Reason,
    item: ReviewItem,
    reporters: list[str],
    appeal_window: int,
) -> list[Notice]:
    automated = item.model_decision in ("review", "reject")
    to_author = action.effect == Effect.REMOVED or action.action in APPEAL_ACTIONS
    appeal_until = (
        action.decided_at + timedelta(seconds=appeal_window)
        if action.action == ActionKind.REMOVE
        else None
    )
    out = []
    recipients: list[tuple[Recipient, str]] = [(Recipient.AUTHOR, item.author)] if to_author else []
    recipients += [(Recipient.REPORTER, r) for r in reporters]  # whatever brought it to review
    for recipient, who in recipients:
        out.append(
            Notice(
                notice_id=f"{action.action_id}:{recipient.value}:{who}",
                tenant=action.tenant,
                action_id=action.action_id,
                event_id=action.event_id,
                author=action.author,
                recipient=recipient,
                recipient_id=who,
                action=action.action,
                reason=reason.code,
                reason_title=reason.title,
                dsa_category=reason.dsa_category,
                ground=reason.ground,
                automated_detection=automated,
                statement=statement(action, recipient, reason.title, automated, appeal_until),
                appeal_until=appeal_until if recipient == Recipient.AUTHOR else None,
                created_at=action.decided_at,
            )
        )
    return out


_SAID = {
    ActionKind.APPROVE: "was reviewed and stays up",
    ActionKind.REMOVE: "was removed",
    ActionKind.LABEL: "was reviewed and labelled",
    ActionKind.ESCALATE: "was passed on for further review",
    ActionKind.UPHOLD: "stays removed: the appeal was refused",
    ActionKind.OVERTURN: "is restored: the appeal was granted",
}


def statement(
    action: ModerationAction,
    recipient: Recipient,
    title: str,
    automated: bool,
    appeal_until: datetime | None,
) -> str:
    """The statement of reasons in plain words (what, why, how it was found, what next)."""
    whose = "Your" if recipient == Recipient.AUTHOR else "The reported"
    parts = [
        f"{whose} {action.kind.value.replace('_', ' ')} {action.item_id} {_SAID[action.action]} "
        f"on {action.decided_at:%Y-%m-%d}.",
        f"Reason: {title}.",
        "It was flagged by automated detection and decided by a person."
        if automated
        else "It was reported and decided by a person.",
    ]
    if appeal_until is not None and recipient == Recipient.AUTHOR:
        parts.append(f"You may appeal this decision until {appeal_until:%Y-%m-%d}.")
    return " ".join(parts)


class AppealIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action_id": "act_3f…", "author": "user-42", "text": "It was a joke."}]
        },
    )

    action_id: str = Field(min_length=1, max_length=100, description="The decision appealed.")
    author: str = Field(
        min_length=1, max_length=256, description="The author, on whose behalf the app appeals."
    )
    text: str = Field(default="", max_length=5_000, description="The author's explanation.")


def appeal(
    session: Session, tenant: str, body: AppealIn, *, appeal_window: int, now: datetime
) -> ReviewItem:
    """Open an appeal of a removal by its author, within the window: an entry of the `appeals`
    queue that the removal's reviewer may not decide."""
    decided = session.query(ReviewItem).filter_by(tenant=tenant, action_id=body.action_id).first()
    if decided is None or decided.author != body.author:
        raise NotFound("not_found", f"no decision {body.action_id!r} on an item of that author")
    if decided.origin == Origin.APPEAL.value:
        raise Conflict("final", "an appeal's outcome cannot itself be appealed here")
    if decided.decided_action != ActionKind.REMOVE.value:
        raise Conflict("not_a_removal", "only a removal can be appealed")
    if decided.decided_at is None or decided.decided_at + timedelta(seconds=appeal_window) < now:
        raise Forbidden("appeal_window_closed", "the window to appeal this decision has closed")
    key = f"appeal:{body.action_id}"
    if session.query(ReviewItem).filter_by(tenant=tenant, event_id=decided.event_id,
                                           origin_key=key).first() is not None:  # fmt: skip
        raise Conflict("appealed", f"decision {body.action_id!r} is appealed already")
    entry = ReviewItem(
        tenant=tenant, queue=queues.APPEALS, rank=now.timestamp(), event_id=decided.event_id,
        origin_key=key, origin=Origin.APPEAL.value, item_id=decided.item_id,
        author=decided.author, source=decided.source, kind=decided.kind, lang=decided.lang,
        labels=decided.labels, toxic=decided.toxic, model_decision=decided.model_decision,
        author_strikes=decided.author_strikes, reports=decided.reports,
        report_categories=decided.report_categories, occurred_at=decided.occurred_at,
        enqueued_at=now, excluded_reviewer=decided.claimed_by, appeal_of=body.action_id,
        appeal_text=body.text,
    )  # fmt: skip
    session.add(entry)
    session.flush()
    return entry
