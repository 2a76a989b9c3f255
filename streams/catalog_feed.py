"""Feeds a worker's media catalog from Kafka: bank entries and judged media, replayed then followed.

Why Kafka and not the warehouse: in embedded mode one process (the API) owns chdb and nobody else
can open it, while a ClickHouse server would be readable by everyone. Kafka is reachable by every
worker in both deployments, so the catalog's source of truth is two topics kept forever:
- `media.banks`: every bank entry and status change; the latest record per entry wins, so
  replaying from the start is always correct (Tansu never compacts; Kafka may, harmlessly);
- `verdicts.media`: every media verdict carries the hashes it computed, so replaying it rebuilds
  the near-duplicate index, and following it makes what *other* workers judge searchable here.
The warehouse stores the same records (the sink) for the API; it is a copy, not the source.

At start the feed reads both topics to the end offsets it saw when it started and then sets
`ready`; the media agent judges nothing before that. It keeps following afterwards, so a bank
imported through the API, or a hash judged by another worker, is searchable within a fetch wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from infra.errors import BrokerError
from infra.kafka import end_offsets
from schemas.media import BankEntry, HashType
from schemas.records import Decision
from schemas.topics import MEDIA_BANKS, VERDICTS_MEDIA
from streams.media.catalog import Catalog

log = logging.getLogger(__name__)


class CatalogFeed:
    def __init__(self, bootstrap: str, catalog: Catalog) -> None:
        self.bootstrap = bootstrap
        self.catalog = catalog
        self.ready = asyncio.Event()
        self.applied = 0

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        try:
            await consumer.start()
            parts = [TopicPartition(MEDIA_BANKS.name, p) for p in range(MEDIA_BANKS.partitions)]
            parts += [
                TopicPartition(VERDICTS_MEDIA.name, p) for p in range(VERDICTS_MEDIA.partitions)
            ]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await end_offsets(self.bootstrap, parts)
            pending = {tp for tp, end in ends.items() if end > 0}
            started = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=300, max_records=5_000)
                for records in batch.values():
                    for record in records:
                        self._apply(record)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if not pending and not self.ready.is_set():
                    log.info(
                        "media catalog replayed: %d records in %.1fs",
                        self.applied, time.monotonic() - started,
                    )  # fmt: skip
                    self.ready.set()
        except KafkaError as exc:
            raise BrokerError(f"media catalog feed failed: {exc}") from exc
        finally:
            await consumer.stop()

    def _apply(self, record: ConsumerRecord) -> None:
        try:
            if record.topic == MEDIA_BANKS.name:
                self.catalog.apply_bank(BankEntry.model_validate_json(record.value or b""))
            else:
                self._apply_verdict(json.loads(record.value or b""))
            self.applied += 1
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping bad record %s@%d: %s", record.topic, record.offset, exc)

    def _apply_verdict(self, doc: dict[str, object]) -> None:
        """Only what the index needs, read without validating the whole verdict (fast replay)."""
        hashes = doc.get("hashes")
        if not hashes or not isinstance(hashes, list):
            return
        self.catalog.add_seen(
            str(doc["tenant"]),
            str(doc["event_id"]),
            Decision(str(doc["decision"])),
            [(HashType(h["hash_type"]), bytes.fromhex(h["value"])) for h in hashes],
        )
