"""The sink's rows without the warehouse: routed by topic, bad records turned into dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from infra.dead_letters import MAX_EVENT_BYTES, dead_letter
from infra.errors import InvalidEvent
from infra.warehouse.sink import DEAD, EVENTS, rows_for
from schemas.rows import DEAD_LETTER_ROWS
from schemas.topics import EVENTS_ACTIVITY, EVENTS_TEXT, VERDICTS_TEXT
from streams.pipeline import RawRecord, decode
from tests.support.events import as_json, post_event


def record(topic: str, value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=1_700_000_000_000, timestamp_type=0,
        key=b"k", value=value, checksum=None, serialized_key_size=1,
        serialized_value_size=len(value), headers=(),
    )  # fmt: skip


def test_rows_route_by_topic_and_bad_records_become_dead_letters() -> None:
    good = record(EVENTS_TEXT.name, as_json(post_event("e1", "hello")))
    bad_text = record(EVENTS_TEXT.name, b"{nope", offset=1)  # the worker dead-letters these
    bad_activity = record(EVENTS_ACTIVITY.name, b"{nope", offset=2)  # no worker: the sink does
    bad_verdict = record(VERDICTS_TEXT.name, b'{"event_id": 1}', offset=3)
    rows = rows_for([good, bad_text, bad_activity, bad_verdict])
    assert [r[1] for r in rows[EVENTS]] == ["e1"]
    dead = {(r[0], r[2]): r[3] for r in rows[DEAD]}
    assert dead == {
        (EVENTS_ACTIVITY.name, 2): "invalid_json",
        (VERDICTS_TEXT.name, 3): "schema_violation",
    }


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"{nope",
        b"[1, 2]",
        b'{"event_id": "x", "tenant": "acme"}',
        b"x" * (MAX_EVENT_BYTES + 1),
    ],
)
def test_the_sink_and_the_worker_give_bad_bytes_the_same_dead_letter(value: bytes) -> None:
    """One builder (infra/dead_letters.py): the same bytes get the same reason on both paths."""
    on_activity = record(EVENTS_ACTIVITY.name, value, offset=5)  # dead-lettered by the sink
    [stored] = rows_for([on_activity])[DEAD]
    with pytest.raises(InvalidEvent) as refused:  # what the text worker does with the same bytes
        decode(RawRecord(EVENTS_ACTIVITY.name, 0, 5, b"k", value))
    letter = dead_letter(on_activity, refused.value, datetime.now(UTC))
    by_column = dict(zip(DEAD.columns, stored, strict=True))
    expected = dict(zip(DEAD.columns, DEAD_LETTER_ROWS.row(letter), strict=True))
    assert {k: v for k, v in by_column.items() if k != "failed_at"} == {
        k: v for k, v in expected.items() if k != "failed_at"
    }
