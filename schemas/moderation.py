"""Human moderation as records: reviewers' decisions (`moderation.actions`) and the notices owed to
authors and reporters (`moderation.notices`). Both are public contracts, keyed `tenant:author`
so that an author's decisions share a partition with the verdicts and strikes they change.

The *effect* of an action is what it does to the item's visibility: `removed` (a removal, or an
appeal upheld), `visible` (an approval, or a removal overturned), or `none` (an escalation, a
label). The latest action with an effect is the item's effective state, over the model's verdict.
Reasons come from a taxonomy (`REASONS`), each mapped to a category of the EU Transparency
Database's statements of reasons (`schemas/dsa.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SCHEMA_VERSION, Kind


class ActionKind(StrEnum):
    APPROVE = "approve"
    REMOVE = "remove"
    ESCALATE = "escalate"
    LABEL = "label"
    UPHOLD = "uphold"
    """An appeal refused: the removal stands."""
    OVERTURN = "overturn"
    """An appeal granted: the item is restored and its strike forgiven."""


class Effect(StrEnum):
    REMOVED = "removed"
    VISIBLE = "visible"
    NONE = "none"


EFFECTS: dict[ActionKind, Effect] = {
    ActionKind.APPROVE: Effect.VISIBLE,
    ActionKind.REMOVE: Effect.REMOVED,
    ActionKind.ESCALATE: Effect.NONE,
    ActionKind.LABEL: Effect.NONE,
    ActionKind.UPHOLD: Effect.REMOVED,
    ActionKind.OVERTURN: Effect.VISIBLE,
}


class Origin(StrEnum):
    """Why the item was in front of a reviewer."""

    VERDICT = "verdict"
    """The model sent it to review."""
    REPORT = "report"
    """Someone reported it."""
    APPEAL = "appeal"
    """Its author appealed a decision."""


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    title: str
    dsa_category: str = Field(description="The Transparency Database category it maps to.")
    ground: Literal["illegal", "incompatible"] = Field(
        description="Whether a removal for it is for illegal content or for content incompatible "
        "with the terms of service."
    )


def _reason(code: str, title: str, category: str, ground: str = "incompatible") -> Reason:
    return Reason.model_validate(
        {
            "code": code,
            "title": title,
            "dsa_category": f"STATEMENT_CATEGORY_{category}",
            "ground": ground,
        }
    )


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        _reason("harassment", "Harassment or bullying", "ILLEGAL_OR_HARMFUL_SPEECH"),
        _reason("hate_speech", "Hate speech", "ILLEGAL_OR_HARMFUL_SPEECH", "illegal"),
        _reason("insult", "Insults and abuse", "ILLEGAL_OR_HARMFUL_SPEECH"),
        _reason("threat", "Threats and incitement to violence", "VIOLENCE", "illegal"),
        _reason("sexual", "Sexual content", "PORNOGRAPHY_OR_SEXUALIZED_CONTENT"),
        _reason("minors", "Endangering minors", "PROTECTION_OF_MINORS", "illegal"),
        _reason("self_harm", "Self-harm or suicide", "SELF_HARM"),
        _reason("scam", "Scams and fraud", "SCAMS_AND_FRAUD", "illegal"),
        _reason("spam", "Spam", "SCOPE_OF_PLATFORM_SERVICE"),
        _reason("privacy", "Personal data exposed", "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS"),
        _reason("ip", "Intellectual property", "INTELLECTUAL_PROPERTY_INFRINGEMENTS", "illegal"),
        _reason(
            "civic",
            "Election or civic disinformation",
            "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        ),
        _reason("non_consensual", "Non-consensual imagery", "NON_CONSENSUAL_BEHAVIOUR", "illegal"),
        _reason("other", "Other breach of the terms of service", "SCOPE_OF_PLATFORM_SERVICE"),
        _reason("no_violation", "No violation found", "SCOPE_OF_PLATFORM_SERVICE"),
    )
}
"""The default taxonomy: report categories and decision reasons alike."""


class ModerationAction(BaseModel):
    """One reviewer decision on one item (`moderation.actions`). `action_id` is chosen once by
    the API: a record published twice is one row in the warehouse."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    action_id: str
    tenant: str
    event_id: str = Field(description="The item decided on (its event id).")
    item_id: str
    author: str
    source: str
    kind: Kind
    occurred_at: AwareDatetime = Field(description="When the item was sent.")
    action: ActionKind
    effect: Effect
    reason: str = Field(description="A code of the tenant's taxonomy, e.g. `harassment`.")
    dsa_category: str
    labels: list[str] = Field(default_factory=list, description="Set by a `label` action.")
    note: str = Field(default="", max_length=2_000)
    reviewer: str = Field(description="`user:…` or `token:…`: who decided.")
    decided_at: AwareDatetime
    origin: Origin
    reports: int = Field(ge=0, description="Reports of the item when it was decided.")
    model_decision: str = Field(description="The model's decision, or `` if it had none.")
    appeal_of: str | None = Field(
        default=None, description="For `uphold` and `overturn`: the action appealed."
    )
    enqueued_at: AwareDatetime = Field(description="When the item entered review.")

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"


class Recipient(StrEnum):
    AUTHOR = "author"
    REPORTER = "reporter"


class Notice(BaseModel):
    """What the upstream app should tell an author or a reporter (`moderation.notices`), with the
    statement of reasons (DSA Art. 17) and the way to appeal (Art. 20)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    notice_id: str
    tenant: str
    action_id: str
    event_id: str
    author: str
    recipient: Recipient
    recipient_id: str
    action: ActionKind
    reason: str
    reason_title: str
    dsa_category: str
    ground: Literal["illegal", "incompatible"]
    automated_detection: bool = Field(description="Whether the models flagged the item.")
    statement: str = Field(description="The statement of reasons, in plain words.")
    appeal_until: AwareDatetime | None = Field(
        default=None, description="For the author of a removal: appeals are heard until then."
    )
    created_at: AwareDatetime

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"
