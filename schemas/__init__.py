"""Wire contracts: the records Modstream puts on Kafka topics, and the topic catalogue.

Everything here is plain pydantic v2 and imports nothing else from the project, so producers in
other services can depend on it alone (or on the JSON Schema from `modstream schemas export`).
"""

from schemas.events import (
    Activity,
    ActivityEvent,
    ChatMessage,
    ChatMessageEvent,
    Event,
    Kind,
    Media,
    MediaEvent,
    Post,
    PostEvent,
    parse_event,
)
from schemas.records import DeadLetter, DeadLetterReason, Decision, Span, Verdict
from schemas.topics import CATALOGUE, TopicSpec, topic_for_kind

__all__ = [
    "CATALOGUE",
    "Activity",
    "ActivityEvent",
    "ChatMessage",
    "ChatMessageEvent",
    "DeadLetter",
    "DeadLetterReason",
    "Decision",
    "Event",
    "Kind",
    "Media",
    "MediaEvent",
    "Post",
    "PostEvent",
    "Span",
    "TopicSpec",
    "Verdict",
    "parse_event",
    "topic_for_kind",
]
