"""Verdicts on the broker's verdict topics: made and published as a worker would, and read
back as a subscriber does."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.records import Verdict
from schemas.topics import VERDICTS_TEXT


def verdict(tenant: str, n: int, *, source: str = "comments", toxic: float = 0.1,
            author: str = "alice", scores: dict[str, float] | None = None,
            kind: str = "post") -> Verdict:  # fmt: skip
    """Verdict `n` of `tenant` (event id `{tenant}-{n}`), rejected above 0.8."""
    now = datetime.now(UTC)
    return Verdict(
        event_id=f"{tenant}-{n}", tenant=tenant, source=source, kind=kind, item_id=str(n),
        author=author, occurred_at=now, judged_at=now, toxic=toxic,
        decision="reject" if toxic > 0.8 else "approve", scores=scores or {"toxic": toxic},
        lang="en", model_version="m1", policy_version="p1", latency_ms=1.0,
    )  # fmt: skip


async def publish(bootstrap: str, verdicts: list[Verdict]) -> None:
    """Put verdicts on `verdicts.text` as a worker does, keyed like a worker's."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for v in verdicts:  # one at a time, so the order within a partition is the list's
            await producer.send_and_wait(
                VERDICTS_TEXT.name, v.model_dump_json().encode(), key=v.partition_key.encode()
            )
    finally:
        await producer.stop()


def read_verdicts(
    bootstrap: str, event_ids: set[str], timeout: float = 60, topic: str = VERDICTS_TEXT.name
) -> dict[str, list[Any]]:
    """Every verdict on a verdict topic for these events (a list each, to see duplicates)."""

    async def run() -> dict[str, list[Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=100)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(VERDICTS_TEXT.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            found: dict[str, list[Any]] = {}
            async with asyncio.timeout(timeout):
                while not event_ids <= found.keys():
                    batch = await consumer.getmany(timeout_ms=300)
                    for records in batch.values():
                        for record in records:
                            verdict = json.loads(record.value)
                            if verdict["event_id"] in event_ids:
                                found.setdefault(verdict["event_id"], []).append(verdict)
            # Drain a little longer so a duplicate verdict would be seen too.
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    verdict = json.loads(record.value)
                    if verdict["event_id"] in event_ids:
                        found[verdict["event_id"]].append(verdict)
            return found
        finally:
            await consumer.stop()

    return asyncio.run(run())


def read_topic(bootstrap: str, topic: str, idle: float = 1.0) -> list[dict[str, Any]]:
    """Every record on `topic` from the beginning, as JSON (until nothing came for `idle` s)."""

    async def run() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=100)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(VERDICTS_TEXT.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            found: list[dict[str, Any]] = []
            while batch := await consumer.getmany(timeout_ms=int(idle * 1000)):
                found += [json.loads(r.value) for records in batch.values() for r in records]
            return found
        finally:
            await consumer.stop()

    return asyncio.run(run())
