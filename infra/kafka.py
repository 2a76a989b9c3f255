"""Kafka plumbing shared by every runnable: topic creation, a publisher, consumer defaults.

aiokafka errors are translated into `BrokerError` here, at the boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from infra.errors import BrokerError
from schemas.topics import CATALOGUE, EVENTS_MEDIA, EVENTS_TEXT, TopicSpec

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec] = CATALOGUE, replication: int = 1
) -> None:
    """Create the catalogue's topics; existing ones are left as they are (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        num_partitions=s.partitions,
                        replication_factor=replication,
                        topic_configs={"retention.ms": str(s.retention_ms)},
                    )
                    for s in missing
                ]
            )
            log.info("created topics: %s", ", ".join(s.name for s in missing))
    except TopicAlreadyExistsError:
        pass  # a concurrent starter won the race
    except KafkaError as exc:
        raise BrokerError(f"cannot create topics on {bootstrap}: {exc}") from exc
    finally:
        await admin.close()


async def broker_reachable(bootstrap: str, wait: float = 3.0) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait * 1000))
    try:
        await asyncio.wait_for(admin.start(), wait)
        await asyncio.wait_for(admin.list_topics(), wait)
    except (KafkaError, TimeoutError, OSError):
        return False
    finally:
        await admin.close()
    return True


EVENT_TOPICS = (EVENTS_TEXT.name, EVENTS_MEDIA.name)
"""What the stream worker's group (`modstream-worker`) consumes."""


async def lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Records on `topics` that `group` has not committed yet (end offset minus committed)."""
    partitions = {s.name: s.partitions for s in CATALOGUE}
    parts = [TopicPartition(t, p) for t in topics for p in range(partitions[t])]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        await admin.start()
        await consumer.start()
        # `partitions=` always: some brokers drop the connection without it.
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        ends = await consumer.end_offsets(parts)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot read the offsets of group {group}: {exc}") from exc
    finally:
        await consumer.stop()
        await admin.close()
    done = {tp: max(0, meta.offset) for tp, meta in committed.items()}
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


class Publisher:
    """An acks=all producer that waits for delivery and reports failures as `BrokerError`."""

    def __init__(self, bootstrap: str, *, linger_ms: int = 2) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=linger_ms,
            compression_type="lz4",
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise BrokerError(f"cannot connect to Kafka: {exc}") from exc

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish_many(
        self, topic: str, records: Sequence[tuple[str | None, bytes]]
    ) -> list[tuple[int, int]]:
        """Send (key, value) records and return once every one is acknowledged: the
        (partition, offset) where each landed, in order."""
        try:
            futures = [
                await self._producer.send(topic, value, key=key.encode() if key else None)
                for key, value in records
            ]
            sent = await asyncio.gather(*futures)
        except KafkaError as exc:
            raise BrokerError(f"publish to {topic} failed: {exc}") from exc
        return [(meta.partition, meta.offset) for meta in sent]

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
