"""Retention on the durable embedded broker: batches every reader is done with leave the object
store; nothing a reader still needs, nothing of a topic kept forever, never the newest batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.broker import BUCKET, EmbeddedBroker
from infra.kafka import end_offsets, ensure_topics
from infra.retention import Retention, RetentionPolicy
from schemas.topics import EVENTS_ACTIVITY, EVENTS_TEXT, MEDIA_BANKS, RULES_SHADOW

TEXT = TopicPartition(EVENTS_TEXT.name, 0)


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    folder = tmp_path_factory.mktemp("retention")
    with EmbeddedBroker(folder, retention=None) as running:  # rounds are run by the tests
        asyncio.run(ensure_topics(running.bootstrap))
        yield running


def sweep(
    broker: EmbeddedBroker, after_read: float, required: dict[str, tuple[str, ...]] | None = None
) -> dict[str, int]:
    policy = RetentionPolicy(after_read=after_read, required=required or {})
    retention = Retention(broker.s3_url, BUCKET, policy)
    return dict(asyncio.run(retention.sweep()))


async def produce(broker: EmbeddedBroker, tp: TopicPartition, n: int) -> None:
    """`n` records, one batch each (one object each in the store)."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(tp.topic, f"r{i}".encode(), partition=tp.partition)
    finally:
        await producer.stop()


async def commit(broker: EmbeddedBroker, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def first_offset(broker: EmbeddedBroker, tp: TopicPartition, start: int = 0) -> int:
    """The offset of the first record a reader asking for `start` gets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        for _ in range(50):
            records = (await consumer.getmany(tp, timeout_ms=200)).get(tp)
            if records:
                return int(records[0].offset)
        raise AssertionError(f"nothing to read on {tp}")
    finally:
        await consumer.stop()


def test_batches_go_once_every_reader_is_past_them(durable: EmbeddedBroker) -> None:
    asyncio.run(produce(durable, TEXT, 20))
    asyncio.run(commit(durable, "fast-reader", TEXT, 12))
    asyncio.run(commit(durable, "slow-reader", TEXT, 8))

    assert sweep(durable, after_read=3600) == {}  # read, but not old enough yet
    assert sweep(durable, after_read=0) == {EVENTS_TEXT.name: 8}  # the slow reader's 0..7
    assert asyncio.run(first_offset(durable, TEXT)) == 8  # a reader from the start: the oldest kept
    assert asyncio.run(first_offset(durable, TEXT, 15)) == 15

    asyncio.run(commit(durable, "slow-reader", TEXT, 20))
    assert sweep(durable, after_read=0) == {EVENTS_TEXT.name: 4}  # now the fast one holds at 12
    asyncio.run(commit(durable, "fast-reader", TEXT, 20))
    assert sweep(durable, after_read=0) == {EVENTS_TEXT.name: 7}  # 12..18: the newest stays
    assert asyncio.run(first_offset(durable, TEXT)) == 19

    asyncio.run(produce(durable, TEXT, 1))  # offsets go on where they were
    assert asyncio.run(first_offset(durable, TEXT, 20)) == 20
    assert asyncio.run(end_offsets(durable.bootstrap, [TEXT])) == {TEXT: 21}
    assert sweep(durable, after_read=0) == {EVENTS_TEXT.name: 1}  # 19, now that 20 follows


def test_a_required_reader_holds_batches_before_its_first_commit(durable: EmbeddedBroker) -> None:
    tp = TopicPartition(EVENTS_ACTIVITY.name, 1)
    asyncio.run(produce(durable, tp, 6))
    asyncio.run(commit(durable, "a-reader", tp, 6))

    sink: dict[str, tuple[str, ...]] = {"the-sink": (EVENTS_ACTIVITY.name,)}
    assert sweep(durable, after_read=0, required=sink) == {}
    asyncio.run(commit(durable, "the-sink", tp, 3))
    assert sweep(durable, after_read=0, required=sink) == {EVENTS_ACTIVITY.name: 3}


def test_unread_partitions_and_topics_kept_forever_stay(durable: EmbeddedBroker) -> None:
    banks = TopicPartition(MEDIA_BANKS.name, 0)
    unread = TopicPartition(EVENTS_TEXT.name, 2)  # no group has an offset there
    asyncio.run(produce(durable, banks, 5))
    asyncio.run(produce(durable, unread, 5))
    asyncio.run(commit(durable, "banks-reader", banks, 5))

    assert sweep(durable, after_read=0) == {}
    assert asyncio.run(first_offset(durable, banks)) == 0
    assert asyncio.run(first_offset(durable, unread)) == 0


def test_a_group_holds_its_batches_across_a_broker_restart(durable: EmbeddedBroker) -> None:
    """After a restart the broker lists only groups that joined since; a reader that has not
    rejoined yet still holds what it has not read (its offsets are read from the store)."""
    tp = TopicPartition(RULES_SHADOW.name, 0)  # a topic no other test's group reads
    asyncio.run(produce(durable, tp, 10))
    asyncio.run(commit(durable, "quick", tp, 10))
    asyncio.run(commit(durable, "slow", tp, 4))
    durable.stop()
    durable.start()

    assert sweep(durable, after_read=0) == {RULES_SHADOW.name: 4}  # 0..3, not past the slow one
    assert asyncio.run(first_offset(durable, tp, 4)) == 4
