"""Re-seed the replayed topics from the warehouse when the broker has lost them.

Workers rebuild their media index and banks, the block list and the strike counts by replaying
`verdicts.media`, `media.banks`, `authors.blocks` and `authors.strikes` from the start. Real
Kafka keeps those topics (the first three forever, strikes for 30 days); the
embedded broker keeps topics in memory, so after a restart they are empty while the warehouse
still holds every record. At start-up the process that owns the warehouse publishes them again,
only into topics that are empty (so nothing is ever doubled) — replaying them is idempotent
anyway, and strikes only as far back as the topic would keep them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from infra.errors import BrokerError
from infra.kafka import Publisher
from infra.warehouse.client import Warehouse
from schemas.media import BankEntry, MediaVerdict
from schemas.strikes import BlockChange, Strike
from schemas.topics import AUTHOR_BLOCKS, AUTHOR_STRIKES, MEDIA_BANKS, VERDICTS_MEDIA, TopicSpec

log = logging.getLogger(__name__)

# (topic, table, record, the time column that the topic's retention applies to)
SOURCES: tuple[tuple[TopicSpec, str, type[BaseModel], str | None], ...] = (
    (MEDIA_BANKS, "bank_entries", BankEntry, None),
    (VERDICTS_MEDIA, "media_verdicts", MediaVerdict, None),
    (AUTHOR_BLOCKS, "author_blocks", BlockChange, None),
    (AUTHOR_STRIKES, "strikes", Strike, "occurred_at"),
)
# Columns named otherwise than the record's field (`limit` is a keyword in SQL).
_RENAMED = {"strike_limit": "limit"}
_BATCH = 5_000


async def topic_is_empty(bootstrap: str, spec: TopicSpec) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    try:
        await consumer.start()
        parts = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        ends = await consumer.end_offsets(parts)
        return all(offset == 0 for offset in ends.values())
    except KafkaError as exc:
        raise BrokerError(f"cannot read the offsets of {spec.name}: {exc}") from exc
    finally:
        await consumer.stop()


def record_from_row(model: type[BaseModel], row: dict[str, Any]) -> BaseModel:
    """A warehouse row as the record it was stored from (naive times are UTC)."""
    doc = {_RENAMED.get(k, k): v for k, v in row.items()}
    doc = {k: v for k, v in doc.items() if k in model.model_fields}
    for key, value in doc.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            doc[key] = value.replace(tzinfo=UTC)
    if model is MediaVerdict:
        doc["hashes"] = [
            h if isinstance(h, dict) else {"hash_type": h[0], "value": h[1], "at_s": h[2]}
            for h in doc.get("hashes", [])
        ]
        doc["matches"] = json.loads(doc.get("matches") or "[]")
    return model.model_validate(doc)


async def reseed(warehouse: Warehouse, publisher: Publisher, bootstrap: str) -> dict[str, int]:
    """Publish each source table into its topic if the topic is empty; returns what was sent."""
    published: dict[str, int] = {}
    for spec, table, model, since in SOURCES:
        if not await topic_is_empty(bootstrap, spec):
            continue
        query = f"SELECT * FROM {table} FINAL"  # noqa: S608 - constant names
        if since is not None and spec.retention_ms > 0:  # what the topic would still hold
            query += f" WHERE {since} > now() - INTERVAL {spec.retention_ms // 1000} SECOND"
        rows = await asyncio.to_thread(warehouse.rows, query)
        for start in range(0, len(rows), _BATCH):
            records = [record_from_row(model, r) for r in rows[start : start + _BATCH]]
            await publisher.publish_many(
                spec.name,
                [(getattr(r, "partition_key"), r.model_dump_json().encode()) for r in records],  # noqa: B009
            )
        if rows:
            log.info("re-seeded %s with %d records from %s", spec.name, len(rows), table)
            published[spec.name] = len(rows)
    return published
