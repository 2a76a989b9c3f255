"""Who is blocked: the `authors.blocks` topic replayed from the start, then followed.

The API (to refuse a blocked author's events) and the chat gateway (to refuse their messages)
each keep one `BlockList`. The topic is kept forever and the latest record per author is the
author's state, so a full replay is always right (and compaction on Kafka is harmless). The
consumer has no group: it is assigned every partition and reads from the beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from infra.errors import BrokerError
from infra.kafka import end_offsets
from schemas.strikes import BlockAction, BlockChange
from schemas.topics import AUTHOR_BLOCKS

log = logging.getLogger(__name__)


class BlockList:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.ready = asyncio.Event()
        self._latest: dict[tuple[str, str], BlockChange] = {}
        self._task: asyncio.Task[None] | None = None

    def blocked(self, tenant: str, author: str) -> BlockChange | None:
        """The block in force for this author, or None."""
        change = self._latest.get((tenant, author))
        return change if change is not None and change.action == BlockAction.BLOCK else None

    def latest(self, tenant: str, author: str) -> BlockChange | None:
        return self._latest.get((tenant, author))

    def apply(self, change: BlockChange) -> None:
        """Apply a change now (e.g. one this process just published), before it comes back from
        the topic. A change older than what is known is ignored."""
        key = (change.tenant, change.author)
        known = self._latest.get(key)
        if known is None or change.at >= known.at:
            self._latest[key] = change

    async def start(self, wait: float = 10.0) -> None:
        """Start following; return once the replay reached the end (or after `wait` seconds)."""
        self._task = asyncio.create_task(self._run(), name="block-list")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokerError):
                await self._task

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        try:
            await consumer.start()
            parts = [TopicPartition(AUTHOR_BLOCKS.name, p) for p in range(AUTHOR_BLOCKS.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await end_offsets(self.bootstrap, parts)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=5_000)
                for records in batch.values():
                    for record in records:
                        self._apply_record(record)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if not pending and not self.ready.is_set():
                    log.info("block list replayed: %d authors known", len(self._latest))
                    self.ready.set()
        except KafkaError as exc:
            raise BrokerError(f"block list feed failed: {exc}") from exc
        finally:
            await consumer.stop()

    def _apply_record(self, record: ConsumerRecord) -> None:
        try:
            change = BlockChange.model_validate_json(record.value or b"")
        except ValidationError as exc:
            log.warning("skipping bad record %s@%d: %s", record.topic, record.offset, exc)
            return
        self.apply(change)
