"""The topic catalogue: every topic Modstream owns, in one place.

Keys are chosen so that what must be ordered or counted together shares a partition: text and
media events by `tenant:author` (strikes, per-author order), activity by `tenant:session`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from schemas.events import ActivityEvent, Kind, MediaEvent, PostEvent
from schemas.media import BankEntry, MediaVerdict
from schemas.moderation import ModerationAction, Notice
from schemas.records import DeadLetter, Verdict
from schemas.rules import ShadowRecord
from schemas.strikes import BlockChange, Strike

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    retention_ms: int
    record: type[BaseModel]
    description: str


EVENTS_TEXT = TopicSpec(
    "events.text", 4, "tenant:author", 7 * DAY_MS, PostEvent,
    "Posts, comments and chat messages to judge (kinds `post` and `chat_message`).",
)  # fmt: skip
EVENTS_MEDIA = TopicSpec(
    "events.media", 4, "tenant:author", 7 * DAY_MS, MediaEvent,
    "Image and video URLs to fetch, hash and match.",
)  # fmt: skip
EVENTS_ACTIVITY = TopicSpec(
    "events.activity", 4, "tenant:session", 7 * DAY_MS, ActivityEvent,
    "UI activity from clients (composer sessions); stored for analytics, not judged.",
)  # fmt: skip
EVENTS_JUDGED = TopicSpec(
    "events.judged", 4, "tenant:author", 7 * DAY_MS, PostEvent,
    "Text items judged synchronously (`POST /v1/moderate` and the compatible routes), whose "
    "verdicts are already on `verdicts.text`: stored by the sink, read by no worker.",
)  # fmt: skip
VERDICTS_TEXT = TopicSpec(
    "verdicts.text", 4, "tenant:author", 30 * DAY_MS, Verdict,
    "One verdict per judged text item. A public contract: subscribe directly.",
)  # fmt: skip
VERDICTS_MEDIA = TopicSpec(
    "verdicts.media", 4, "tenant:author", -1, MediaVerdict,
    "One verdict per judged image or video, with its hashes and matches. A public contract; "
    "kept forever: workers rebuild their near-duplicate index from it.",
)  # fmt: skip
MEDIA_BANKS = TopicSpec(
    "media.banks", 4, "tenant:entry_id", -1, BankEntry,
    "Bank entries (known hashes) and their status changes; the latest per entry wins. Kept "
    "forever: workers replay it at start-up.",
)  # fmt: skip
DEAD_LETTERS = TopicSpec(
    "events.deadletter", 4, "source topic", 30 * DAY_MS, DeadLetter,
    "Input that could not be judged, with the reason and the raw value.",
)  # fmt: skip

AUTHOR_STRIKES = TopicSpec(
    "authors.strikes", 4, "tenant:author", 30 * DAY_MS, Strike,
    "One record per counted strike (a rejected verdict or a reviewer's removal), with the "
    "author's count in the window; the same record with `revoked` when a reviewer restores it.",
)  # fmt: skip
AUTHOR_BLOCKS = TopicSpec(
    "authors.blocks", 4, "tenant:author", -1, BlockChange,
    "Authors blocked by the strikes agent and unblocked by moderators; the latest per author "
    "wins. Kept forever: the API and the chat gateway replay it at start-up.",
)  # fmt: skip
RULES_SHADOW = TopicSpec(
    "rules.shadow", 4, "tenant:author", 30 * DAY_MS, ShadowRecord,
    "What shadow rules would have done, one record per rule that fired (docs/rules.md).",
)  # fmt: skip

MODERATION_ACTIONS = TopicSpec(
    "moderation.actions", 4, "tenant:author", -1, ModerationAction,
    "One record per reviewer decision (approve, remove, escalate, label; an appeal upheld or "
    "overturned). A public contract; kept forever: the effective state of items is read from it.",
)  # fmt: skip
MODERATION_NOTICES = TopicSpec(
    "moderation.notices", 4, "tenant:author", 365 * DAY_MS, Notice,
    "Notices for authors and reporters, with the statement of reasons: for the upstream app to "
    "deliver. A public contract.",
)  # fmt: skip

CATALOGUE: tuple[TopicSpec, ...] = (
    EVENTS_TEXT,
    EVENTS_MEDIA,
    EVENTS_ACTIVITY,
    EVENTS_JUDGED,
    VERDICTS_TEXT,
    VERDICTS_MEDIA,
    MEDIA_BANKS,
    DEAD_LETTERS,
    AUTHOR_STRIKES,
    AUTHOR_BLOCKS,
    RULES_SHADOW,
    MODERATION_ACTIONS,
    MODERATION_NOTICES,
)

WORKER_GROUP = "modstream-worker"
STRIKES_GROUP = "modstream-strikes"
SINK_GROUP = "modstream-sink"
REVIEW_GROUP = "modstream-review-intake"
CHAT_GROUP = "modstream-chat-gateway"

READERS: dict[str, tuple[str, ...]] = {
    WORKER_GROUP: (EVENTS_TEXT.name, EVENTS_MEDIA.name),
    STRIKES_GROUP: (VERDICTS_TEXT.name, AUTHOR_BLOCKS.name, MODERATION_ACTIONS.name),
    SINK_GROUP: tuple(t.name for t in CATALOGUE),  # the warehouse stores every topic
    REVIEW_GROUP: (VERDICTS_TEXT.name, VERDICTS_MEDIA.name),
    CHAT_GROUP: (VERDICTS_TEXT.name, MODERATION_ACTIONS.name),
}
"""The consumer groups of the stack and the topics each reads. Retention on the embedded broker
keeps every record one of them has not read, even before a group's first commit."""

_BY_KIND = {
    Kind.POST: EVENTS_TEXT,
    Kind.CHAT_MESSAGE: EVENTS_TEXT,
    Kind.MEDIA: EVENTS_MEDIA,
    Kind.ACTIVITY: EVENTS_ACTIVITY,
}


def topic_for_kind(kind: Kind) -> TopicSpec:
    """The topic an event of this kind is published to."""
    return _BY_KIND[kind]


HASH_ONLY_HEADER = "modstream-store"
"""A record header; the value `hash` asks the sink to keep only the text's SHA-256 (as privacy
mode does), e.g. for `POST /v1/moderate` with `store: false`. It can only take text out."""
HASH_ONLY = b"hash"


def tenant_from_key(key: bytes | None) -> str | None:
    """The tenant of a record keyed `tenant:…` (every event and verdict topic), if it has one."""
    if not key or b":" not in key:
        return None
    tenant = key.split(b":", 1)[0].decode("utf-8", "replace")
    return tenant[:64] or None
