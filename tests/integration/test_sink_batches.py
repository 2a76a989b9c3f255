"""The warehouse sink's batches on the real broker and warehouse: records that trickle in are
inserted together, once per flush interval, and no batch exceeds `batch_size`; and the lag it
reports, after each batch and while it is stuck."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from infra.accounts import AccountsDB
from infra.accounts.privacy import PrivacyRegistry
from infra.kafka import Publisher, lag, partition_lag
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


def _reported(group: str) -> dict[int, float]:
    """The sink's `modstream_consumer_lag` per partition of `verdicts.text`, where set."""
    found = {}
    for p in range(VERDICTS_TEXT.partitions):
        labels = {"group": group, "topic": VERDICTS_TEXT.name, "partition": str(p)}
        value = REGISTRY.get_sample_value("modstream_consumer_lag", labels)
        if value is not None:
            found[p] = value
    return found


async def _lag_after_each_batch(settings: Settings, warehouse: Warehouse) -> list[float]:
    """A caught-up group falls five records behind on one partition; a sink of it then stores
    them two at a time. The largest lag it reported, as each batch reaches the warehouse (the
    last batch's measurement), then once done."""
    bootstrap, group = settings.require_bootstrap(), f"test-sink-lag-{uuid.uuid4().hex[:8]}"
    first = WarehouseSink(warehouse, bootstrap, group_id=group, topics=TOPICS)
    task = asyncio.create_task(first.run())
    try:
        await asyncio.wait_for(_caught_up(bootstrap, group), 60)
    finally:
        first.stop()
        await task
    ours = [verdict(f"sink-lag-{uuid.uuid4().hex}") for _ in range(5)]  # one author: one partition
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(
            TOPICS[0], [(v.partition_key, v.model_dump_json().encode()) for v in ours]
        )
    seen: list[float] = []
    stored: list[int] = []

    def on_flush(rows: dict[Table, list[Row]]) -> None:
        seen.append(max(_reported(group).values(), default=-1.0))
        stored.append(len(rows.get(VERDICTS, [])))

    second = WarehouseSink(
        warehouse, bootstrap, group_id=group, batch_size=2, flush_interval=0.5, topics=TOPICS,
        on_flush=on_flush,
    )  # fmt: skip
    task = asyncio.create_task(second.run(lag_interval=0.0))
    try:
        async with asyncio.timeout(60):
            while sum(stored) < len(ours) or max(_reported(group).values(), default=1) > 0:
                await asyncio.sleep(0.1)
    finally:
        second.stop()
        await task
    parts = [TopicPartition(VERDICTS_TEXT.name, p) for p in range(VERDICTS_TEXT.partitions)]
    broker_says = await partition_lag(bootstrap, group, TOPICS)
    assert {tp.partition: float(n) for tp, n in broker_says.items() if tp in parts} == _reported(
        group
    )
    return [*seen, max(_reported(group).values())]


def test_the_sink_reports_its_lag_per_batch(settings: Settings, warehouse: Warehouse) -> None:
    # Before its first batch nothing is measured yet; then 3 behind, 1 behind, caught up.
    assert asyncio.run(_lag_after_each_batch(settings, warehouse)) == [-1.0, 3.0, 1.0, 0.0]


async def _lag_of_a_stuck_sink(settings: Settings, warehouse: Warehouse, folder: Path) -> None:
    """A sink whose accounts store has no tables cannot read privacy modes: it takes its first
    batch, then waits and retries, so its own loop measures nothing."""
    bootstrap, group = settings.require_bootstrap(), f"test-sink-stuck-{uuid.uuid4().hex[:8]}"
    privacy = PrivacyRegistry(AccountsDB(f"sqlite:///{folder}/accounts.db"))  # no schema
    sink = WarehouseSink(warehouse, bootstrap, group_id=group, topics=TOPICS, privacy=privacy)
    task = asyncio.create_task(sink.run(lag_interval=0.2))
    try:
        async with asyncio.timeout(60):
            while not _reported(group):
                await asyncio.sleep(0.1)
        from_broker = await partition_lag(bootstrap, group, TOPICS)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    expected = {tp.partition: float(n) for tp, n in from_broker.items()}
    assert _reported(group) == expected  # the whole topic: the new group committed nothing
    assert sum(expected.values()) > 0
    assert sink.flushed == 0


def test_a_stuck_sink_reports_its_lag_from_the_broker(
    settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    asyncio.run(_lag_of_a_stuck_sink(settings, warehouse, tmp_path))
