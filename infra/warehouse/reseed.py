"""Re-seed the replayed topics from the warehouse when the broker has lost them.

Workers rebuild their media index and banks, and the block list, by replaying `verdicts.media`,
`media.banks` and `authors.blocks` from the start. Real Kafka keeps those topics forever; the
embedded broker keeps topics in memory, so after a restart they are empty while the warehouse
still holds every record. At start-up the process that owns the warehouse publishes them again,
only into topics that are empty (so nothing is ever doubled) — replaying them is idempotent anyway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

from infra.kafka import Publisher, end_offsets
from infra.warehouse.client import Warehouse
from schemas.rows import BANK_ENTRY_ROWS, BLOCK_CHANGE_ROWS, MEDIA_VERDICT_ROWS, RecordRows
from schemas.topics import AUTHOR_BLOCKS, MEDIA_BANKS, VERDICTS_MEDIA, TopicSpec

log = logging.getLogger(__name__)

SOURCES: tuple[tuple[TopicSpec, str, RecordRows[Any]], ...] = (
    (MEDIA_BANKS, "bank_entries", BANK_ENTRY_ROWS),
    (VERDICTS_MEDIA, "media_verdicts", MEDIA_VERDICT_ROWS),
    (AUTHOR_BLOCKS, "author_blocks", BLOCK_CHANGE_ROWS),
)
_BATCH = 5_000


async def topic_is_empty(bootstrap: str, spec: TopicSpec) -> bool:
    parts = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    ends = await end_offsets(bootstrap, parts)
    return all(offset == 0 for offset in ends.values())


async def reseed(warehouse: Warehouse, publisher: Publisher, bootstrap: str) -> dict[str, int]:
    """Publish each source table into its topic if the topic is empty; returns what was sent."""
    published: dict[str, int] = {}
    for spec, table, stored in SOURCES:
        if not await topic_is_empty(bootstrap, spec):
            continue
        rows = await asyncio.to_thread(
            warehouse.rows,
            f"SELECT * FROM {table} FINAL",  # noqa: S608 - a constant table name
        )
        for start in range(0, len(rows), _BATCH):
            records = [stored.record(r) for r in rows[start : start + _BATCH]]
            await publisher.publish_many(
                spec.name,
                [(getattr(r, "partition_key"), r.model_dump_json().encode()) for r in records],  # noqa: B009
            )
        if rows:
            log.info("re-seeded %s with %d records from %s", spec.name, len(rows), table)
            published[spec.name] = len(rows)
    return published
