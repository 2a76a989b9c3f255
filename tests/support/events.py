"""Events as upstream apps send them, for posting over HTTP or producing onto a topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


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
