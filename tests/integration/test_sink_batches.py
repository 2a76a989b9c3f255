"""The warehouse sink's batches on the real broker and warehouse: records that trickle in are
inserted together, once per flush interval, and no batch exceeds `batch_size`."""

from __future__ import annotations

import asyncio
import uuid

from infra.kafka import Publisher, lag
from infra.settings import Settings
from infra.warehouse import Warehouse
from infra.warehouse.sink import VERDICTS, Table, WarehouseSink
from schemas.rows import Row
from schemas.topics import VERDICTS_TEXT
from tests.integration.test_warehouse import verdict

TOPICS = (VERDICTS_TEXT.name,)


async def _caught_up(bootstrap: str, group: str) -> None:
    """Until the new group has stored what the topic held before the test (other tests')."""
    while await lag(bootstrap, group, TOPICS) > 0:
        await asyncio.sleep(0.2)


async def _batches_of_ours(
    settings: Settings, warehouse: Warehouse, *, batch_size: int, spaced: float, count: int
) -> list[int]:
    """Publish `count` verdicts of a fresh tenant `spaced` seconds apart to a sink of its own
    group (flush interval 3 s); how many of them each of its inserts held."""
    bootstrap, group = settings.require_bootstrap(), f"test-sink-{uuid.uuid4().hex[:8]}"
    ours = [f"sink-batch-{uuid.uuid4().hex}" for _ in range(count)]
    seen: list[int] = []

    def on_flush(rows: dict[Table, list[Row]]) -> None:
        at = VERDICTS.columns.index("event_id")
        n = sum(1 for row in rows.get(VERDICTS, []) if row[at] in ours)
        if n:
            seen.append(n)

    sink = WarehouseSink(
        warehouse, bootstrap, group_id=group, batch_size=batch_size, flush_interval=3.0,
        topics=TOPICS, on_flush=on_flush,
    )  # fmt: skip
    task = asyncio.create_task(sink.run())
    try:
        await asyncio.wait_for(_caught_up(bootstrap, group), 60)
        async with Publisher(bootstrap) as publisher:
            for event_id in ours:
                v = verdict(event_id)
                record = (v.partition_key, v.model_dump_json().encode())
                await publisher.publish_many(TOPICS[0], [record])
                await asyncio.sleep(spaced)
        async with asyncio.timeout(60):
            while sum(seen) < count:
                await asyncio.sleep(0.1)
    finally:
        sink.stop()
        await task
    return seen


def test_records_that_trickle_in_are_inserted_together(
    settings: Settings, warehouse: Warehouse
) -> None:
    seen = asyncio.run(_batches_of_ours(settings, warehouse, batch_size=5_000, spaced=0.2, count=4))
    assert seen == [4]  # one insert, not one per fetch


def test_no_insert_holds_more_than_the_batch_size(settings: Settings, warehouse: Warehouse) -> None:
    seen = asyncio.run(_batches_of_ours(settings, warehouse, batch_size=2, spaced=0, count=5))
    assert sum(seen) == 5
    assert max(seen) <= 2
