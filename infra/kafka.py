"""Kafka plumbing shared by every runnable: topic creation, a publisher, consumer defaults.

aiokafka errors are translated into `BrokerError` here, at the boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from infra.errors import BrokerError
from infra.metrics import CONSUMER_LAG, EVENTS_OUT
from schemas.topics import CATALOGUE, READERS, WORKER_GROUP, TopicSpec

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


async def end_offsets(
    bootstrap: str, parts: Sequence[TopicPartition], timeout: float = 15.0
) -> dict[TopicPartition, int]:
    """The end offset (high watermark) of each partition, as Fetch responses report it.

    The embedded broker answers ListOffsets(latest), which `AIOKafkaConsumer.end_offsets` asks,
    with too small an offset: after a multi-record batch in memory, and after almost any write
    on S3 storage (4 single-record batches: 1). Its Fetch responses carry the right one. A
    reader that stops at the listed end stops early (a table half recovered, a block list half
    replayed), so this probe fetches once from the listed end and keeps the larger offset. On
    Apache Kafka both agree and the fetch returns at once.
    """
    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50,
        max_partition_fetch_bytes=1024, request_timeout_ms=int(timeout * 1000),
    )  # fmt: skip
    try:
        await probe.start()
        listed = await probe.end_offsets(list(parts))
        probe.assign(list(parts))
        for tp, end in listed.items():
            probe.seek(tp, end)
        deadline = asyncio.get_running_loop().time() + timeout
        while any(probe.highwater(tp) is None for tp in parts):
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerError(f"no high watermark for {sorted(map(str, parts))[:4]}")
            await probe.getmany(timeout_ms=100, max_records=1)
        return {tp: max(listed[tp], probe.highwater(tp) or 0) for tp in parts}
    except KafkaError as exc:
        raise BrokerError(f"cannot read end offsets from {bootstrap}: {exc}") from exc
    finally:
        await probe.stop()


EVENT_TOPICS = READERS[WORKER_GROUP]
"""What the stream worker's group consumes: events.text and events.media."""


async def lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Records on `topics` that `group` has not committed yet (end offset minus committed)."""
    return sum((await partition_lag(bootstrap, group, topics)).values())


async def partition_lag(
    bootstrap: str, group: str, topics: Sequence[str]
) -> dict[TopicPartition, int]:
    """Each partition's lag for `group`: its end offset minus the group's committed offset."""
    partitions = {s.name: s.partitions for s in CATALOGUE}
    parts = [TopicPartition(t, p) for t in topics for p in range(partitions[t])]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        await admin.start()
        # `partitions=` always: some brokers drop the connection without it.
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot read the offsets of group {group}: {exc}") from exc
    finally:
        await admin.close()
    ends = await end_offsets(bootstrap, parts)
    done = {tp: max(0, meta.offset) for tp, meta in committed.items()}
    return {tp: max(0, end - done.get(tp, 0)) for tp, end in ends.items()}


async def take_batch(
    consumer: AIOKafkaConsumer, max_records: int, window: float
) -> list[ConsumerRecord[bytes, bytes]]:
    """What arrives within `window` seconds of a batch's first record, up to `max_records`
    (none if nothing arrives within `window`). For consumers whose cost is per batch (an insert,
    a transaction, an offset commit): under a steady trickle, one batch per window instead of
    one per fetch."""
    loop = asyncio.get_running_loop()
    records: list[ConsumerRecord[bytes, bytes]] = []
    until: float | None = None
    while len(records) < max_records:
        wait = window if until is None else until - loop.time()
        if wait <= 0:
            break
        batch = await consumer.getmany(
            timeout_ms=max(1, int(wait * 1000)), max_records=max_records - len(records)
        )
        for part in batch.values():
            records.extend(part)
        if until is None:
            if not records:
                break
            until = loop.time() + window
    return records


def next_offsets(
    records: Iterable[ConsumerRecord[bytes, bytes]],
) -> dict[TopicPartition, int]:
    """The offset to commit for each partition `records` came from (the one after its last).
    Committing only these, not every assigned partition, matters on the embedded broker with
    durable storage: each committed partition is an object written (the sink is assigned every
    partition of thirteen topics, and a batch of synchronous moderation touches two or three)."""
    out: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        out[tp] = max(out.get(tp, 0), r.offset + 1)
    return out


async def report_lag(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Set the `modstream_consumer_lag` gauge of `group` from the broker, once (a broker that
    cannot be asked leaves it as it was)."""
    try:
        for tp, behind in (await partition_lag(bootstrap, group, topics)).items():
            CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(behind)
    except BrokerError as exc:
        log.debug("lag of %s not measured: %s", group, exc)


async def watch_lag(bootstrap: str, group: str, topics: Sequence[str], every: float = 10.0) -> None:
    """Keep the `modstream_consumer_lag` gauge of `group` fresh, until cancelled."""
    while True:
        await report_lag(bootstrap, group, topics)
        await asyncio.sleep(every)


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
        self,
        topic: str,
        records: Sequence[tuple[str | None, bytes]],
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> list[tuple[int, int]]:
        """Send (key, value) records, each with `headers`, and return once every one is
        acknowledged: the (partition, offset) where each landed, in order."""
        extra = list(headers) if headers else None
        try:
            futures = [
                await self._producer.send(
                    topic, value, key=key.encode() if key else None, headers=extra
                )
                for key, value in records
            ]
            sent = await asyncio.gather(*futures)
        except KafkaError as exc:
            raise BrokerError(f"publish to {topic} failed: {exc}") from exc
        EVENTS_OUT.labels(topic).inc(len(sent))
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
