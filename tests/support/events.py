"""Events as upstream apps send them (for posting over HTTP or producing onto a topic), and as
the worker takes them off a topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from streams.pipeline import RawRecord


def post_event(
    event_id: str,
    text: str,
    *,
    tenant: str = "demo",
    source: str = "comments",
    external_id: str | None = None,
    author: str = "user-1",
    lang: str | None = None,
) -> dict[str, Any]:
    """A `post` event as JSON-ready data; `external_id` defaults to the event id."""
    payload: dict[str, Any] = {
        "external_id": external_id or event_id,
        "author": author,
        "text": text,
    }
    if lang:
        payload["lang"] = lang
    return {
        "event_id": event_id,
        "tenant": tenant,
        "source": source,
        "kind": "post",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


def as_json(event: dict[str, Any]) -> bytes:
    """The bytes a producer puts on a topic."""
    return json.dumps(event).encode()


def raw(value: bytes | None, offset: int = 0, topic: str = "events.text") -> RawRecord:
    """A record as the worker takes it off `topic`."""
    return RawRecord(topic=topic, partition=1, offset=offset, key=b"demo:a", value=value)


def records(*texts: str) -> list[RawRecord]:
    """Posts `e0`, `e1`, … with these texts, as consecutive records on `events.text`."""
    return [
        RawRecord("events.text", 0, i, b"demo:user-1", as_json(post_event(f"e{i}", text)))
        for i, text in enumerate(texts)
    ]
