from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from infra.warehouse import Warehouse, migrate
from infra.warehouse.migrate import available
from infra.warehouse.sink import TABLES, VERDICTS, rows_for
from schemas.events import Kind
from schemas.records import Decision, Verdict
from schemas.topics import VERDICTS_TEXT


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


def test_every_table_has_the_columns_its_record_gives(warehouse: Warehouse) -> None:
    """The columns the sink writes are read off the models (schemas/rows.py); the migrations
    made the tables. A field added to a model without its migration fails here."""
    for table in TABLES:
        found = warehouse.rows(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = {t:String}",
            {"t": table.name},
        )
        assert {r["name"] for r in found} == set(table.columns), table.name
