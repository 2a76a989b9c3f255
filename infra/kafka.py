"""Kafka plumbing shared by every runnable: topic creation, a publisher, consumer defaults.

aiokafka errors are translated into `BrokerError` here, at the boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from infra.errors import BrokerError
from schemas.topics import CATALOGUE, TopicSpec

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

    async def publish_many(self, topic: str, records: Sequence[tuple[str | None, bytes]]) -> None:
        """Send (key, value) records and return once every one is acknowledged."""
        try:
            futures = [
                await self._producer.send(topic, value, key=key.encode() if key else None)
                for key, value in records
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise BrokerError(f"publish to {topic} failed: {exc}") from exc

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
