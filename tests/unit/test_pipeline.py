"""The text pipeline's parts that need no model: decoding names each reason, media on the text
topic is the wrong topic, spans realigned to a rewritten text."""

from __future__ import annotations

import json

import pytest

from infra.dead_letters import MAX_EVENT_BYTES
from infra.errors import InvalidEvent
from schemas.records import DeadLetterReason
from streams.pipeline import decode, realign
from tests.support.events import as_json, post_event, raw


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", DeadLetterReason.INVALID_JSON),
        (b"{not json", DeadLetterReason.INVALID_JSON),
        (b"[1, 2]", DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"event_id": "x"}', DeadLetterReason.SCHEMA_VIOLATION),
        (as_json(post_event("big", "w " * 30_000)), DeadLetterReason.OVERSIZED),
        (b"x" * (MAX_EVENT_BYTES + 1), DeadLetterReason.OVERSIZED),
    ],
)
def test_decode_names_the_reason(value: bytes, reason: DeadLetterReason) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode(raw(value))
    assert info.value.reason is reason


def test_media_on_the_text_topic_is_the_wrong_topic() -> None:
    media = post_event("m1", "x") | {
        "kind": "media",
        "payload": {"external_id": "1", "owner": "a", "url": "https://e.com/a.png",
                    "media_type": "image"},
    }  # fmt: skip
    with pytest.raises(InvalidEvent) as info:
        decode(raw(json.dumps(media).encode()))
    assert info.value.reason is DeadLetterReason.WRONG_TOPIC


def test_realign_finds_the_span_words_in_the_new_text() -> None:
    old = "You STUPID idiot"
    new = "you   stupid IDIOT"
    assert realign(old, [(4, 10), (11, 16)], new) == [(6, 12), (13, 18)]
    assert realign(old, [(4, 10)], "nothing alike") == []
