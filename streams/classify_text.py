"""The text agent: batches from `events.text` through the pipeline to `verdicts.text`.

A batch's events are acknowledged (and later committed) only after every verdict and dead letter
of that batch is acknowledged by the broker: at-least-once, never at-most-once. An event that
makes judging fail is dead-lettered and the rest of its batch judged (`streams/isolate.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from infra.logging import heartbeat
from infra.settings import WorkerSettings
from schemas.topics import EVENTS_TEXT
from streams.app import ModstreamApp
from streams.batching import batches
from streams.dedupe import Ledger
from streams.isolate import Isolating
from streams.pipeline import raw_record
from streams.pipeline_process import Judge, Outgoing
from streams.worker_metrics import count_text_batch

log = logging.getLogger(__name__)


class Counters:
    def __init__(self) -> None:
        self.events = self.verdicts = self.dead_letters = self.duplicates = self.reused = 0
        self.republished = 0
        self._since = time.monotonic()

    def add(self, n_events: int, out: Outgoing, published: int) -> None:
        self.events += n_events
        self.republished += len(out.keys) - published
        self.verdicts += out.verdicts
        self.dead_letters += len(out.dead_letters)
        self.duplicates += out.duplicates
        self.reused += out.reused_scores

    def report(self) -> None:
        elapsed, self._since = time.monotonic() - self._since, time.monotonic()
        if self.events:
            log.info(
                "%d events in %.0fs (%.0f/s): %d verdicts, %d dead letters, %d duplicates "
                "skipped, %d reused scores, %d records not sent again (published before)",
                self.events, elapsed, self.events / elapsed, self.verdicts, self.dead_letters,
                self.duplicates, self.reused, self.republished,
            )  # fmt: skip
        self.events = self.verdicts = self.dead_letters = self.duplicates = self.reused = 0
        self.republished = 0


def register(
    app: ModstreamApp,
    judge: Judge,
    settings: WorkerSettings,
    ledger: Ledger,
    heartbeat_file: Path | None = None,
) -> None:
    """Attach the text agent (and its periodic report) to `app`; `ledger` keeps what was
    published, so that an event delivered again is not published twice."""
    isolating = Isolating(judge)
    source = app.topic(EVENTS_TEXT.name, value_serializer="raw", key_serializer="raw")
    counters = Counters()

    async def deliver(stream: Any, events: list[Any], out: Outgoing) -> None:
        """Publish a batch's records, then acknowledge its events: an offset is committed only
        once what its event produced is on the broker, so nothing is skipped on a crash."""
        try:
            published = await ledger.publish(out.records, out.keys, app.produce)
        except Exception as exc:
            # Possibly with no batch after it to notice: stop the worker, for its supervisor to
            # restart it; the events are unacknowledged, so they are judged again.
            log.critical("publishing verdicts failed, stopping the worker: %r", exc)
            await app.crash(exc)
            raise
        for event in events:
            await stream.ack(event)
        for topic, partition, offset, _, detail in out.dead_letters:
            log.warning("dead letter %s[%d]@%d: %s", topic, partition, offset, detail[:200])
        counters.add(len(events), out, published=published)
        count_text_batch(len(events), out)

    # A batch is judged while the last one's verdicts are delivered; its own are sent only after
    # those are acknowledged by the broker, so the verdicts of a partition keep their order.
    # (With concurrency > 1, several actors do this each; an author's items may then be judged
    # out of order, see the setting.)
    @app.agent(source, name="classify_text", concurrency=settings.concurrency)
    async def classify_text(stream: Any) -> AsyncIterator[None]:
        delivering: asyncio.Task[None] | None = None
        async for events in batches(stream, settings.batch_size):
            records = [raw_record(e.message) for e in events]
            # CPU-bound: judged off the loop (in the pipeline's child processes by default), so
            # the consumer keeps fetching.
            try:
                out = await asyncio.to_thread(isolating.process, records)
            except Exception as exc:
                # Not the events' fault (the pipeline's process cannot restart, or keeps dying):
                # a crashed agent alone would leave the worker running and the partition
                # stalled. Stop the worker instead, for its supervisor to restart; the batch is
                # uncommitted, so it is judged again.
                log.critical("text pipeline failed, stopping the worker: %r", exc)
                await app.crash(exc)
                raise
            if delivering is not None:
                await delivering
            delivering = asyncio.create_task(deliver(stream, events, out))
            yield None

    @app.timer(30.0)  # type: ignore[untyped-decorator]
    async def report() -> None:
        counters.report()

    @app.task  # type: ignore[untyped-decorator]
    async def beat() -> None:
        await heartbeat(heartbeat_file)
