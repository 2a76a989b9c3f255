"""After the embedded broker restarts empty, the warehouse's bank entries, media verdicts and
blocks are published again, once, so workers can rebuild what they replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.broker import EmbeddedBroker
from infra.kafka import Publisher, ensure_topics
from infra.warehouse import Warehouse
from infra.warehouse.reseed import reseed
from schemas.topics import AUTHOR_BLOCKS, MEDIA_BANKS, TopicSpec


def read_all(bootstrap: str, spec: TopicSpec) -> list[dict[str, object]]:
    async def run() -> list[dict[str, object]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=50)
        await consumer.start()
        try:
            parts = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            out: list[dict[str, object]] = []
            for _ in range(10):
                batch = await consumer.getmany(timeout_ms=200)
                out += [json.loads(r.value) for rs in batch.values() for r in rs]
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def test_an_empty_broker_is_reseeded_once_from_the_warehouse(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    tenant = f"reseed-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    warehouse.insert(
        "bank_entries",
        [[tenant, "bad", "bad:phash:0123456789abcdef", "phash", "0123456789abcdef", "known",
          "test", "reject", "quarantined", "flood", now]],
        ["tenant", "bank", "entry_id", "hash_type", "value", "label", "source", "decision",
         "status", "note", "updated_at"],
    )  # fmt: skip
    warehouse.insert(
        "author_blocks",
        [[tenant, "ann", "block:1", "block", now, "strikes", 5, "five strikes"]],
        ["tenant", "author", "change_id", "action", "at", "actor", "strikes", "reason"],
    )

    with EmbeddedBroker(tmp_path) as fresh:  # what a restarted embedded broker looks like

        async def seed() -> dict[str, int]:
            await ensure_topics(fresh.bootstrap)
            async with Publisher(fresh.bootstrap) as publisher:
                first = await reseed(warehouse, publisher, fresh.bootstrap)
                second = await reseed(warehouse, publisher, fresh.bootstrap)
            assert second == {}  # topics that hold records are left alone
            return first

        counts = asyncio.run(seed())
        assert counts[MEDIA_BANKS.name] >= 1
        banks = [e for e in read_all(fresh.bootstrap, MEDIA_BANKS) if e["tenant"] == tenant]
        assert [(e["entry_id"], e["status"], e["note"]) for e in banks] == [
            ("bad:phash:0123456789abcdef", "quarantined", "flood")
        ]
        blocks = [b for b in read_all(fresh.bootstrap, AUTHOR_BLOCKS) if b["tenant"] == tenant]
        assert [(b["author"], b["action"], b["strikes"]) for b in blocks] == [("ann", "block", 5)]
