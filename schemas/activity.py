"""The composer activity contract: what a "new post" composer reports, as `activity` events.

A composer session (one popup, one `session_id`) emits an `activity` event per UI step, each with
the moderation mode in use. `Activity.action` stays an open name (forward compatible: unknown
actions are stored and counted as activity); these are the names the analytics understand.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Identifier


class ComposerAction(StrEnum):
    COMPOSER_OPENED = "composer_opened"
    COMPOSER_CLOSED = "composer_closed"
    DRAFT_SAVED = "draft_saved"
    SCORE_UPDATED = "score_updated"
    SPANS_SHOWN = "spans_shown"
    WARNING_SHOWN = "warning_shown"
    REWRITE_SUGGESTED = "rewrite_suggested"
    REWRITE_ACCEPTED = "rewrite_accepted"
    REWRITE_REJECTED = "rewrite_rejected"
    SUBMIT_BLOCKED = "submit_blocked"
    POST_CANCELLED = "post_cancelled"
    POSTED_ANYWAY = "posted_anyway"
    POST_PUBLISHED = "post_published"
    ERROR = "error"


ACTIONS: dict[ComposerAction, str] = {
    ComposerAction.COMPOSER_OPENED: "the new-post composer (popup) opened",
    ComposerAction.COMPOSER_CLOSED: "the composer closed (after publishing or not)",
    ComposerAction.DRAFT_SAVED: "the draft was autosaved",
    ComposerAction.SCORE_UPDATED: "a live score arrived (`metadata.toxic`, `metadata.decision`)",
    ComposerAction.SPANS_SHOWN: "toxic words of the draft were highlighted",
    ComposerAction.WARNING_SHOWN: "the composer warned about the draft",
    ComposerAction.REWRITE_SUGGESTED: "a gentler rewrite was offered",
    ComposerAction.REWRITE_ACCEPTED: "the user took the rewrite",
    ComposerAction.REWRITE_REJECTED: "the user kept their own text",
    ComposerAction.SUBMIT_BLOCKED: "safe mode refused to submit the draft",
    ComposerAction.POST_CANCELLED: "the user cancelled (or edited away) after a warning",
    ComposerAction.POSTED_ANYWAY: "the user forced the post despite the warning",
    ComposerAction.POST_PUBLISHED: "the post was published (`metadata.event_id` names it)",
    ComposerAction.ERROR: "the composer hit an error (`metadata.code`)",
}
"""Every action the analytics understand, with what it means."""


class ModerationMode(StrEnum):
    OFF = "off"
    WARN = "warn"
    REWRITE = "rewrite"
    SAFE = "safe"


MODES: dict[ModerationMode, str] = {
    ModerationMode.OFF: "no intervention: the composer scores silently (a control group)",
    ModerationMode.WARN: "the composer warns and highlights; the user may post anyway",
    ModerationMode.REWRITE: "the composer warns and suggests a rewrite; the user may post anyway",
    ModerationMode.SAFE: "the composer refuses to submit a draft the policy would reject",
}
"""The moderation modes a composer can run in."""


def _listed(table: dict[Any, str]) -> str:
    return "; ".join(f"`{k.value}`: {v}" for k, v in table.items())


class ComposerActivity(BaseModel):
    """The payload of an `activity` event from a composer (a stricter view of `Activity`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: Identifier
    session_id: Identifier = Field(description="One composer session: from open to close.")
    action: ComposerAction = Field(description=_listed(ACTIONS))
    mode: ModerationMode = Field(description=_listed(MODES))
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form details: `event_id` of the published post (links the session to "
        "its verdict), `toxic` and `decision` of a score, `code` of an error, …",
    )
