"""The event envelope and its four kinds.

An event is an envelope (`event_id`, `tenant`, `source`, `kind`, `occurred_at`, `schema_version`)
around a payload whose shape is chosen by `kind`. `event_id` is chosen by the producer and must stay
the same across retries: it is the idempotency key of everything downstream.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)

SCHEMA_VERSION: Final = 1
MAX_TEXT_CHARS = 50_000
"""Longer texts are refused (dead-lettered as `oversized`); long-text sampling handles the rest."""

NOT_BLANK = r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""A pattern (unanchored) for "has a character that is not Unicode white space", which is what
is left after the surrounding white space is stripped: so the schema refuses `"\\f"` as the
model does."""
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256, strip_whitespace=True, pattern=NOT_BLANK),
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
]
LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class Kind(StrEnum):
    POST = "post"
    CHAT_MESSAGE = "chat_message"
    MEDIA = "media"
    ACTIVITY = "activity"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=MAX_TEXT_CHARS)


class Post(_Record):
    """A tweet, post or comment."""

    external_id: Identifier = Field(description="The item's id in the upstream app.")
    author: Identifier
    text: Text
    lang: LangCode | None = Field(default=None, description="ISO 639-1 code, if the app knows it.")
    parent_id: Identifier | None = Field(default=None, description="The post this one replies to.")
    thread_id: Identifier | None = None
    context: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Earlier texts of the thread (parent first), to inform the verdict.",
    )


class ChatMessage(_Record):
    """A message in a private conversation or a room."""

    message_id: Identifier
    sender: Identifier
    receiver: Identifier | None = None
    room: Identifier | None = None
    text: Text
    lang: LangCode | None = None


class Media(_Record):
    """An image or video, by URL."""

    external_id: Identifier
    owner: Identifier
    url: AnyHttpUrl
    media_type: Literal["image", "video"]


class Activity(_Record):
    """A UI event from a composer or another client surface."""

    user: Identifier
    session_id: Identifier
    action: Name
    mode: Name | None = Field(default=None, description="The moderation mode in use, if any.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Envelope(_Record):
    event_id: Identifier = Field(description="Producer-chosen, stable across retries.")
    tenant: Name
    source: Name = Field(description="Where the item comes from: x, chat, comments, media, …")
    occurred_at: AwareDatetime = Field(description="When the user acted, with a time zone.")
    schema_version: Literal[1] = SCHEMA_VERSION

    @property
    def item_id(self) -> str:
        """The upstream app's id of the judged item: what dedupe and the warehouse key on."""
        return self.event_id

    @property
    def author(self) -> str:
        raise NotImplementedError

    @property
    def text(self) -> str | None:
        return None

    @property
    def partition_key(self) -> str:
        """Everything one author does lands in one partition (ordering, strikes)."""
        return f"{self.tenant}:{self.author}"


class PostEvent(_Envelope):
    kind: Literal[Kind.POST] = Kind.POST
    payload: Post

    @property
    def item_id(self) -> str:
        return self.payload.external_id

    @property
    def author(self) -> str:
        return self.payload.author

    @property
    def text(self) -> str:
        return self.payload.text


class ChatMessageEvent(_Envelope):
    kind: Literal[Kind.CHAT_MESSAGE] = Kind.CHAT_MESSAGE
    payload: ChatMessage

    @property
    def item_id(self) -> str:
        return self.payload.message_id

    @property
    def author(self) -> str:
        return self.payload.sender

    @property
    def text(self) -> str:
        return self.payload.text


class MediaEvent(_Envelope):
    kind: Literal[Kind.MEDIA] = Kind.MEDIA
    payload: Media

    @property
    def item_id(self) -> str:
        return self.payload.external_id

    @property
    def author(self) -> str:
        return self.payload.owner


class ActivityEvent(_Envelope):
    kind: Literal[Kind.ACTIVITY] = Kind.ACTIVITY
    payload: Activity

    @property
    def author(self) -> str:
        return self.payload.user

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.payload.session_id}"


Event = Annotated[
    PostEvent | ChatMessageEvent | MediaEvent | ActivityEvent, Field(discriminator="kind")
]
"""Any event; `kind` selects the payload shape."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_BATCH_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def parse_event(raw: bytes | str) -> PostEvent | ChatMessageEvent | MediaEvent | ActivityEvent:
    """Parse and validate one JSON-encoded event; raises pydantic.ValidationError."""
    return EVENT_ADAPTER.validate_json(raw)


def utc_iso(moment: datetime) -> str:
    return moment.isoformat()
