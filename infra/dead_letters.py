"""Why a record cannot be read, and the dead letter that says so: one place for the workers (which
read the event topics) and the sink (which reads the rest), so the same bytes get the same reason
wherever they fail.

- `invalid_json`: an empty value, or bytes that are not JSON;
- `oversized`: more bytes than any valid event has, or a text over `MAX_TEXT_CHARS`;
- `schema_violation`: JSON that is not the record (the detail names fields, never their values);
- `wrong_topic`, `processing_error`: said by the worker that finds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import ValidationError

from infra.errors import InvalidEvent
from schemas.events import MAX_TEXT_CHARS, Event, parse_event
from schemas.records import DeadLetter, DeadLetterReason
from schemas.topics import tenant_from_key

T = TypeVar("T")

MAX_EVENT_BYTES = 4 * MAX_TEXT_CHARS + 64 * 1024
"""Larger events are refused before parsing: no client can make a worker parse megabytes."""
RAW_KEEP = 16 * 1024
"""Bytes of the raw record a dead letter keeps."""


class SourceRecord(Protocol):
    """A consumed Kafka record, as Faust, aiokafka or the pipelines hold it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def invalid(exc: ValidationError) -> InvalidEvent:
    """The reason of a validation failure, described without quoting the input (it may be
    private text)."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return InvalidEvent(DeadLetterReason.INVALID_JSON, errors[0]["msg"])
    if any(e["type"] == "string_too_long" and "text" in e["loc"] for e in errors):
        return InvalidEvent(DeadLetterReason.OVERSIZED, f"text longer than {MAX_TEXT_CHARS} chars")
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in errors[:10])
    return InvalidEvent(DeadLetterReason.SCHEMA_VIOLATION, detail)


def parse(
    validate: Callable[[bytes], T], value: bytes | None, *, max_bytes: int | None = None
) -> T:
    """`validate(value)`, or `InvalidEvent` saying why not."""
    if not value:
        raise InvalidEvent(DeadLetterReason.INVALID_JSON, "empty value")
    if max_bytes is not None and len(value) > max_bytes:
        raise InvalidEvent(DeadLetterReason.OVERSIZED, f"{len(value)} bytes exceeds {max_bytes}")
    try:
        return validate(value)
    except ValidationError as exc:
        raise invalid(exc) from exc


def decode_event(value: bytes | None) -> Event:
    """One event of any kind, or `InvalidEvent` with the reason."""
    return parse(parse_event, value, max_bytes=MAX_EVENT_BYTES)


def dead_letter(record: SourceRecord, error: InvalidEvent, now: datetime) -> DeadLetter:
    """The dead letter of `record`, with the owner's tenant and event id where they can be told."""
    value = record.value or b""
    tenant = event_id = None
    try:  # best effort: tell the owner whose event it was, if the JSON says
        doc = json.loads(value) if len(value) <= MAX_EVENT_BYTES else None
        if isinstance(doc, dict):
            tenant = str(doc["tenant"])[:64] if "tenant" in doc else None
            event_id = str(doc["event_id"])[:256] if "event_id" in doc else None
    except (ValueError, UnicodeDecodeError):
        pass
    tenant = tenant or tenant_from_key(record.key)  # the key is `tenant:…` on event topics
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=error.reason,
        detail=error.detail[:4_000],
        raw=value[:RAW_KEEP].decode("utf-8", "replace"),
        raw_size=len(value),
        tenant=tenant,
        event_id=event_id,
        failed_at=now,
    )
