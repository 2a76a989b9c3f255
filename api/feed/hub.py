"""One consumer of the verdict topic, fanned out to every subscriber through bounded queues.

The consumer has no group: it is assigned every partition, so positions are explicit offsets
(what a subscriber resumes from) and start-up does not wait for a group join. A subscriber that
falls `capacity` verdicts behind is closed with its position instead of stalling the others; it
reconnects from there. A subscriber that starts behind the live position first reads its backlog
with a short-lived consumer of its own, up to `capacity` verdicts per connection, then continues
on the live queue.

The consumer reads only while someone listens: `idle_after` seconds after the last subscriber
left, its partitions are paused, and the first subscriber to come back moves it to the topic's
end again (`infra.kafka.end_offsets`) before its own position is taken. Nobody misses anything:
what was published meanwhile is before the live position, in any resuming subscriber's backlog.
Reading every verdict for nobody cost the durable embedded broker an object read per verdict and
an object-store listing per fetch, every 20 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.feed import position
from api.feed.position import Positions, Start
from infra.errors import BrokerError
from infra.kafka import end_offsets
from schemas.topics import VERDICTS_TEXT, TopicSpec

log = logging.getLogger(__name__)

IDLE_AFTER = 10.0
"""Seconds without a subscriber before the feed stops reading: long enough that a client
reconnecting (an `EventSource` retries after 3 s) or a run of `POST /v1/posts?wait=` requests
finds it reading, so the end offsets are not looked up for each."""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Which verdicts a subscriber receives: one tenant, optionally narrowed."""

    tenant: str
    sources: frozenset[str] = frozenset()
    decisions: frozenset[str] = frozenset()
    label: str | None = None
    min_score: float = 0.5
    private: bool = False
    """Chat messages are private: only a subscriber with the `private` scope receives them."""

    def matches(self, verdict: dict[str, Any]) -> bool:
        if verdict.get("tenant") != self.tenant:
            return False
        if verdict.get("kind") == "chat_message" and not self.private:
            return False
        if self.sources and verdict.get("source") not in self.sources:
            return False
        if self.decisions and verdict.get("decision") not in self.decisions:
            return False
        if self.label is not None:
            score = (verdict.get("scores") or {}).get(self.label)
            return isinstance(score, int | float) and score >= self.min_score
        return True


@dataclass(frozen=True, slots=True)
class Delivery:
    partition: int
    offset: int
    value: bytes
    """The record as published: a `Verdict` in JSON."""


class FeedClosed(Exception):
    """The feed ended for this subscriber; `position` resumes it exactly."""

    def __init__(self, reason: str, resume: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = resume


@dataclass(eq=False)
class Subscription:
    filter: FeedFilter
    capacity: int
    positions: Positions
    """Next offset per partition: everything before it was delivered or did not match."""
    backlog: deque[Delivery] = field(default_factory=deque)
    backlog_end: Positions = field(default_factory=dict)
    backlog_truncated: bool = False
    _live: deque[Delivery] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: str | None = None

    @property
    def token(self) -> str:
        return position.dump(self.positions)

    def offer(self, delivery: Delivery) -> bool:
        """Queue a live verdict; False (and closed) when the subscriber is `capacity` behind."""
        if self._closed:
            return False
        if len(self._live) >= self.capacity:
            self.close(f"too slow: {self.capacity} verdicts were waiting; resume from the position")
            return False
        self._live.append(delivery)
        self._wake.set()
        return True

    def skip(self, partition: int, offset: int) -> None:
        """A live record this subscriber does not want: move past it if nothing waits before it."""
        if not self._live and not self.backlog and not self._closed:
            self.positions[partition] = max(self.positions.get(partition, 0), offset + 1)

    def close(self, reason: str) -> None:
        if not self._closed:
            self._closed = reason
            self._wake.set()

    async def next(self) -> Delivery:
        """The next verdict in order; raises FeedClosed once closed and drained."""
        while True:
            if self.backlog:
                delivery = self.backlog.popleft()
            elif self.backlog_end:
                for p, o in self.backlog_end.items():
                    self.positions[p] = max(self.positions.get(p, 0), o)
                self.backlog_end = {}
                if self.backlog_truncated:  # live verdicts lie beyond the unread gap
                    self._live.clear()
                    self.close("backlog continues: resume from the position")
                continue
            elif self._live:
                delivery = self._live.popleft()
            elif self._closed:
                raise FeedClosed(self._closed, self.token)
            else:
                self._wake.clear()
                await self._wake.wait()
                continue
            if delivery.offset >= self.positions.get(delivery.partition, 0):
                self.positions[delivery.partition] = delivery.offset + 1
                return delivery


def _parse(value: bytes | None) -> dict[str, Any] | None:
    try:
        doc = json.loads(value or b"")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


class VerdictHub:
    def __init__(
        self,
        bootstrap: str,
        topic: TopicSpec = VERDICTS_TEXT,
        *,
        capacity: int = 1_000,
        fetch_max_wait_ms: int = 20,
        idle_after: float = IDLE_AFTER,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic.name
        self.capacity = capacity
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.idle_after = idle_after
        self.positions: Positions = {}
        """The live position, while the feed reads (`idle` is False)."""
        self._parts: list[TopicPartition] = []
        self._subscribers: set[Subscription] = set()
        self._joining = 0
        """Subscriptions being set up: the feed does not go idle under them."""
        self._idle = True
        self._quiet_since: float | None = None
        self._waking = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        parts = consumer.partitions_for_topic(self.topic)
        if not parts:
            await consumer.topics()  # refreshes metadata: the topic may be new
            parts = consumer.partitions_for_topic(self.topic) or set()
        if not parts:
            raise BrokerError(f"topic {self.topic} has no partitions")
        return [TopicPartition(self.topic, p) for p in sorted(parts)]

    async def start(self) -> None:
        """Connect and assign every partition, idle: reading starts with the first subscriber."""
        consumer = self._new_consumer()
        try:
            await consumer.start()
            parts = await self._partitions(consumer)
            consumer.assign(parts)
            consumer.pause(*parts)
        except KafkaError as exc:
            await consumer.stop()
            raise BrokerError(f"live feed cannot read {self.topic}: {exc}") from exc
        self._consumer, self._parts = consumer, parts
        self._task = asyncio.create_task(self._run(), name="verdict-feed")

    @property
    def idle(self) -> bool:
        """True while nobody listens and the consumer is paused (`positions` are stale)."""
        return self._idle

    async def _wake(self) -> None:
        """Read again, from the topic's end: that is `now` for the subscriber waking it."""
        async with self._waking:
            if not self._idle or self._consumer is None:
                return
            ends = await end_offsets(self.bootstrap, self._parts)
            for tp, end in ends.items():
                self._consumer.seek(tp, end)
            self.positions = {tp.partition: end for tp, end in ends.items()}
            self._consumer.resume(*self._parts)
            self._idle, self._quiet_since = False, None
            log.debug("live feed reading from %s", position.dump(self.positions))

    def _rest_if_unwatched(self) -> None:
        """Pause the consumer once nobody has listened for `idle_after` seconds. Runs in the
        reading loop, between dispatches, so no record is half delivered."""
        if self._idle or self._consumer is None:
            return
        if self._subscribers or self._joining:
            self._quiet_since = None
            return
        now = asyncio.get_running_loop().time()
        if self._quiet_since is None:
            self._quiet_since = now
        if now - self._quiet_since >= self.idle_after:
            self._consumer.pause(*self._parts)
            self._idle = True
            log.debug("live feed idle: nobody subscribed for %.0fs", self.idle_after)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self._subscribers):
            sub.close("the server is shutting down; resume from the position")
        self._subscribers.clear()
        if self._consumer:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=1_000)
            except KafkaError as exc:
                log.warning("live feed: %s; retrying", exc)
                await asyncio.sleep(1)
                continue
            for tp, records in batch.items():
                for record in records:
                    self.positions[tp.partition] = record.offset + 1
                    self._dispatch(Delivery(tp.partition, record.offset, record.value or b""))
            self._rest_if_unwatched()

    def _dispatch(self, delivery: Delivery) -> None:
        verdict = _parse(delivery.value)
        for sub in list(self._subscribers):
            if verdict is not None and sub.filter.matches(verdict):
                if not sub.offer(delivery):
                    self._subscribers.discard(sub)
            else:
                sub.skip(delivery.partition, delivery.offset)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def subscribe(
        self, flt: FeedFilter, start: Start = "now", capacity: int | None = None
    ) -> Subscription:
        """Register a subscriber; if `start` is behind the live position, read its backlog."""
        capacity = capacity or self.capacity
        self._joining += 1
        try:
            if self._idle:
                await self._wake()
            begin = await self._resolve(start) if start != "now" else dict(self.positions)
            # No await between this snapshot and registering: every record past `live` is
            # dispatched to the subscription, every record before it is in the backlog read below.
            live = dict(self.positions)
            sub = Subscription(flt, capacity, dict(begin))
            self._subscribers.add(sub)
        finally:
            self._joining -= 1
        behind = {p: o for p, o in begin.items() if o < live.get(p, 0)}
        if behind:
            try:
                await self._read_backlog(sub, behind, live)
            except BaseException:
                self.unsubscribe(sub)
                raise
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close("unsubscribed")
        self._subscribers.discard(sub)

    async def _resolve(self, start: Start) -> Positions:
        live = self.positions
        if isinstance(start, dict):
            return {p: start.get(p, 0) for p in live} | start
        consumer = self._new_consumer()
        try:
            await consumer.start()
            parts = await self._partitions(consumer)
            if start == "earliest":
                found = await consumer.beginning_offsets(parts)
                return {tp.partition: found[tp] for tp in parts}
            if isinstance(start, datetime):
                millis = int(start.timestamp() * 1000)
                found = await consumer.offsets_for_times({tp: millis for tp in parts})
                return {
                    tp.partition: found[tp].offset if found[tp] else live.get(tp.partition, 0)
                    for tp in parts
                }
            raise ValueError(f"unknown start {start!r}")
        except KafkaError as exc:
            raise BrokerError(f"cannot resolve the feed position: {exc}") from exc
        finally:
            await consumer.stop()

    async def _read_backlog(self, sub: Subscription, begin: Positions, until: Positions) -> None:
        """Read [begin, until) per partition into the subscription, at most `capacity` matches."""
        consumer = self._new_consumer()
        reached = dict(begin)
        try:
            await consumer.start()
            parts = [TopicPartition(self.topic, p) for p in begin]
            consumer.assign(parts)
            for tp in parts:
                consumer.seek(tp, begin[tp.partition])
            pending = set(parts)
            while pending and len(sub.backlog) < sub.capacity:
                batch = await consumer.getmany(*pending, timeout_ms=1_000)
                for tp, records in batch.items():
                    full = self._fill(sub, tp.partition, records, until[tp.partition], reached)
                    if full:
                        break
                    if await consumer.position(tp) >= until[tp.partition]:
                        pending.discard(tp)
                        reached[tp.partition] = until[tp.partition]
        except KafkaError as exc:
            raise BrokerError(f"cannot read the feed backlog: {exc}") from exc
        finally:
            await consumer.stop()
        sub.backlog_end = reached
        sub.backlog_truncated = bool(pending)

    @staticmethod
    def _fill(
        sub: Subscription, partition: int, records: list[Any], end: int, reached: Positions
    ) -> bool:
        """Append matching records before `end`; True once the backlog is full."""
        for record in records:
            if record.offset >= end:
                return False
            if len(sub.backlog) >= sub.capacity:
                return True
            reached[partition] = record.offset + 1
            verdict = _parse(record.value)
            if verdict is not None and sub.filter.matches(verdict):
                sub.backlog.append(Delivery(partition, record.offset, record.value or b""))
        return len(sub.backlog) >= sub.capacity
