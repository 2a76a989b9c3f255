"""The warehouse sink's consumer lag (`modstream_consumer_lag`), from what its fetches already
tell it: each assigned partition's high watermark minus its position, right after a commit
(when the position is the committed offset).

Asking the broker every interval (`infra.kafka.watch_lag`) meant a probe consumer fetching from
each of the sink's 52 partitions: on the durable embedded broker, object reads and listings of
the store for a gauge. The broker is still asked when the sink's loop has not measured for two
intervals (an insert retried while the warehouse refuses, a broker being reconnected): then the
lag is what an operator needs to see grow, not a gauge frozen at its last value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from infra import metrics
from infra.kafka import report_lag


class SinkLag:
    """Made in the running loop of the sink it measures, every `interval` seconds."""

    def __init__(self, bootstrap: str, group: str, topics: Sequence[str], interval: float) -> None:
        self.bootstrap, self.group, self.topics = bootstrap, group, tuple(topics)
        self.interval = interval
        self._loop = asyncio.get_running_loop()
        self._due = 0.0
        self._measured_at = self._loop.time()
        self._measured: set[TopicPartition] = set()

    async def after_batch(self, consumer: AIOKafkaConsumer) -> None:
        """Each assigned partition's high watermark (from the last fetch) minus its position:
        every record a batch returned is committed by now, so that is end minus committed."""
        now = self._loop.time()
        if now < self._due:
            return
        self._due = now + self.interval
        assigned: set[TopicPartition] = consumer.assignment()
        if assigned:  # not yet in the group: the broker is asked (`while_stalled`)
            self._measured_at = now
        for tp in assigned:
            end = consumer.highwater(tp)
            try:
                done = await consumer.position(tp) if end is not None else None
            except KafkaError:  # taken away by a rebalance meanwhile: not ours to report
                continue
            if end is not None and done is not None:
                labels = (self.group, tp.topic, str(tp.partition))
                metrics.CONSUMER_LAG.labels(*labels).set(max(0, end - done))
        for gone in self._measured - assigned:  # another member reports it now
            metrics.CONSUMER_LAG.remove(self.group, gone.topic, str(gone.partition))
        self._measured = set(assigned)

    async def while_stalled(self) -> None:
        """Ask the broker whenever the sink has not measured for two intervals, until
        cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if self._loop.time() - self._measured_at >= 2 * self.interval:
                await report_lag(self.bootstrap, self.group, self.topics)
