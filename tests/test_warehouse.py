from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from infra.warehouse import Warehouse, migrate
from infra.warehouse.migrate import available
from infra.warehouse.sink import DEAD, EVENTS, VERDICTS, rows_for
from schemas.events import Kind
from schemas.records import Decision, Verdict
from schemas.topics import EVENTS_ACTIVITY, EVENTS_TEXT, VERDICTS_TEXT
from tests.support.events import as_json, post_event


def record(topic: str, value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=1_700_000_000_000, timestamp_type=0,
        key=b"k", value=value, checksum=None, serialized_key_size=1,
        serialized_value_size=len(value), headers=(),
    )  # fmt: skip


def verdict(event_id: str, toxic: float = 0.9) -> Verdict:
    now = datetime.now(UTC)
    return Verdict(
        event_id=event_id, tenant="demo", source="comments", kind=Kind.POST, item_id=event_id,
        author="ann", occurred_at=now, judged_at=now, decision=Decision.REJECT, toxic=toxic,
        scores={"toxic": toxic}, lang="en", spans=[(0, 3)], model_version="m",
        policy_version="p", latency_ms=12.5,
    )  # fmt: skip


def test_migrations_apply_once(warehouse: Warehouse) -> None:
    assert migrate(warehouse) == []  # the API applied them at start-up; nothing is left
    versions = [m.version for m in available()]
    assert versions == sorted(set(versions))
    applied = warehouse.rows("SELECT version FROM schema_migrations FINAL ORDER BY version")
    assert [r["version"] for r in applied] == versions


def test_a_verdict_stored_twice_counts_once(warehouse: Warehouse) -> None:
    event_id = f"twice-{uuid.uuid4().hex}"
    rows = rows_for([record(VERDICTS_TEXT.name, verdict(event_id).model_dump_json().encode())])
    for _ in range(2):
        warehouse.insert(VERDICTS.name, rows[VERDICTS], VERDICTS.columns)
    found = warehouse.rows(
        "SELECT count() AS n, any(spans) AS spans, any(scores) AS scores FROM verdicts FINAL "
        "WHERE event_id = {e:String}",
        {"e": event_id},
    )[0]
    assert found["n"] == 1
    assert found["spans"] == [(0, 3)]
    assert found["scores"]["toxic"] > 0.89


def test_rows_route_by_topic_and_bad_records_become_dead_letters() -> None:
    good = record(EVENTS_TEXT.name, as_json(post_event("e1", "hello")))
    bad_text = record(EVENTS_TEXT.name, b"{nope", offset=1)  # the worker dead-letters these
    bad_activity = record(EVENTS_ACTIVITY.name, b"{nope", offset=2)  # no worker: the sink does
    bad_verdict = record(VERDICTS_TEXT.name, b'{"event_id": 1}', offset=3)
    rows = rows_for([good, bad_text, bad_activity, bad_verdict])
    assert [r[1] for r in rows[EVENTS]] == ["e1"]
    dead = {(r[0], r[2]): r[3] for r in rows[DEAD]}
    assert dead == {
        (EVENTS_ACTIVITY.name, 2): "schema_violation",
        (VERDICTS_TEXT.name, 3): "schema_violation",
    }
