"""The Faust application, built by a factory (never at import time).

`ModstreamTransport` is Faust's supported seam for two changes to its consumer thread:
- Faust hard-codes a 1.5 s `fetch_max_wait_ms` for its worker consumer, which on a quiet topic
  adds up to that much latency to every event; the thread builds its consumer with our own wait.
- Table recovery reads each changelog up to the end offset that ListOffsets reports, which the
  embedded broker under-reports (see `infra.kafka.end_offsets`): a restarted strikes worker
  would recover part of its table. The thread asks `end_offsets` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import faust
import mode
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from infra import metrics
from infra.kafka import end_offsets
from infra.settings import WorkerSettings
from schemas.topics import WORKER_GROUP


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps its constructor argument here and reads it when the fetcher starts.
        consumer._fetch_max_wait_ms = cast("ModstreamApp", self.app).fetch_max_wait_ms
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        if self.consumer.in_transaction:  # never here (no exactly-once), kept as Faust has it
            return await super()._highwaters(partitions)
        bootstrap = cast("ModstreamApp", self.app).bootstrap
        found = await end_offsets(
            bootstrap, [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        )
        return {TP(tp.topic, tp.partition): end for tp, end in found.items()}


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ModstreamTransport(faust_aiokafka.Transport):
    Consumer = _Consumer


class ModstreamApp(faust.App):
    fetch_max_wait_ms: int = 100
    bootstrap: str = ""

    async def produce(self, topic: str, key: str, value: str) -> Awaitable[Any]:
        """Hand a record to the producer; returns its delivery future, which counts the record
        in `modstream_events_out_total` once the broker acknowledges it. (Faust's Topic.send
        wraps each record in channel and future objects: twice the cost, no gain here.)"""
        future: asyncio.Future[Any] = await self.producer.send(  # type: ignore[assignment]
            topic, key.encode(), value.encode(), partition=None, timestamp=None, headers=None
        )
        future.add_done_callback(_count_sent(topic))
        return cast(Awaitable[Any], future)

    def _new_transport(self) -> ModstreamTransport:
        return ModstreamTransport(self.conf.broker_consumer, self)


def _count_sent(topic: str) -> Callable[[asyncio.Future[Any]], None]:
    counter = metrics.EVENTS_OUT.labels(topic)

    def count(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is None:
            counter.inc()

    return count


def create_app(
    settings: WorkerSettings, bootstrap: str, app_id: str = WORKER_GROUP, **overrides: Any
) -> ModstreamApp:
    """The worker's Faust app; `overrides` replace or add Faust settings (the strikes worker's
    changelog topic declaration)."""
    conf: dict[str, Any] = (
        dict(
            broker=f"kafka://{bootstrap}",
            store="memory://",
            topic_partitions=4,
            topic_allow_declare=False,  # the catalogue creates topics (infra.kafka.ensure_topics)
            web_enabled=False,
            broker_session_timeout=10,
            broker_heartbeat_interval=1,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=2,
            # Faust's 16 KB holds ~16 verdicts: on a broker whose every produce is a round trip
            # to its object store, small batches cap the worker. The API's producer uses the same.
            producer_max_batch_size=256 * 1024,
            producer_compression_type="lz4",
            broker_commit_interval=1.0,
            stream_buffer_maxsize=settings.batch_size * 8,
            # A crashed agent would leave the worker running with its unacknowledged events
            # never delivered again (a broker error while publishing, say): stop the worker
            # instead, for its supervisor to restart it; those events are then judged again.
            agent_supervisor=mode.CrashingSupervisor,
        )
        | overrides
    )
    app = ModstreamApp(app_id, **conf)
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    app.bootstrap = bootstrap
    return app
