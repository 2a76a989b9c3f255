"""The warehouse sink: Kafka topics → ClickHouse tables, in batches, committing only after a flush.

A failed insert is retried with back-off on the same batch and no offset moves until it lands, so
a crash loses nothing; the tables are ReplacingMergeTrees keyed by event, so the replay that
follows a crash counts nothing twice. A table's columns and rows are read off the wire record it
stores (`schemas/rows.py`). A record that cannot be parsed is stored as a dead letter, with the
reason a worker would give it (`infra/dead_letters.py`), unless a worker upstream already
dead-letters that topic.

Privacy mode (`infra/accounts/privacy.py`): for a tenant in privacy mode the text never reaches
a table; `events` keeps its SHA-256 instead, and dead letters keep a digest of the raw record.
A record whose producer set the `modstream-store: hash` header is kept the same way.

The sink measures its own lag from its fetches (`infra/warehouse/sink_lag.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from infra import metrics
from infra.accounts.privacy import PrivacyRegistry, sha256_hex
from infra.dead_letters import dead_letter, decode_event, parse
from infra.errors import AccountsError, InvalidEvent, WarehouseError
from infra.kafka import next_offsets, take_batch
from infra.warehouse.client import Warehouse
from infra.warehouse.sink_lag import SinkLag
from schemas.records import DeadLetter, Verdict
from schemas.rows import (
    ACTION_ROWS,
    BANK_ENTRY_ROWS,
    BLOCK_CHANGE_ROWS,
    DEAD_LETTER_ROWS,
    MEDIA_VERDICT_ROWS,
    NOTICE_ROWS,
    SHADOW_ROWS,
    STRIKE_ROWS,
    VERDICT_ROWS,
    RecordRows,
    Row,
)
from schemas.topics import (
    AUTHOR_BLOCKS,
    AUTHOR_STRIKES,
    DEAD_LETTERS,
    EVENTS_ACTIVITY,
    EVENTS_JUDGED,
    EVENTS_MEDIA,
    EVENTS_TEXT,
    HASH_ONLY,
    HASH_ONLY_HEADER,
    MEDIA_BANKS,
    MODERATION_ACTIONS,
    MODERATION_NOTICES,
    RULES_SHADOW,
    SINK_GROUP,
    VERDICTS_MEDIA,
    VERDICTS_TEXT,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
IsPrivate = Callable[[str | None], bool]
ToRow = Callable[[ConsumerRecord, IsPrivate], Row]


def _nobody(_: str | None) -> bool:
    return False


def _everybody(_: str | None) -> bool:
    return True


def _hash_only(record: ConsumerRecord) -> bool:
    """The producer asked that only the text's digest be kept (`HASH_ONLY_HEADER`)."""
    return any(k == HASH_ONLY_HEADER and v == HASH_ONLY for k, v in record.headers or ())


@dataclass(frozen=True, eq=False, slots=True)
class Table:
    """A table the sink writes, and how a consumed record becomes one of its rows."""

    name: str
    columns: tuple[str, ...]
    to_row: ToRow


def _kept(record: M, _: IsPrivate) -> M:
    return record


def record_table(
    name: str, rows: RecordRows[M], redact: Callable[[M, IsPrivate], M] = _kept
) -> Table:
    """The table of a wire record: columns and row from `rows` (schemas/rows.py), after
    `redact` took out what privacy mode does not store."""

    def to_row(record: ConsumerRecord, private: IsPrivate) -> Row:
        return rows.row(redact(parse(rows.model.model_validate_json, record.value), private))

    return Table(name, rows.columns, to_row)


def _without_rewrite(v: Verdict, private: IsPrivate) -> Verdict:
    """The rewrite suggestion is words of the text: not stored for a tenant in privacy mode."""
    return v.model_copy(update={"rewrite": None}) if v.rewrite and private(v.tenant) else v


def _digest_if_private(d: DeadLetter, private: IsPrivate) -> DeadLetter:
    """A validation message or the raw record may quote the text: a private tenant's dead letter
    keeps the reason and a digest of the record."""
    if not private(d.tenant):
        return d
    return d.model_copy(update={"detail": d.reason.value, "raw": f"sha256:{sha256_hex(d.raw)}"})


def event_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    """An event as received: its envelope, its text (or only the text's digest, in privacy mode)
    and its payload as JSON. A projection of the envelope, not a copy of one record type."""
    event = decode_event(record.value)
    text = event.text or ""
    digest = sha256_hex(text) if text else ""
    if private(event.tenant):
        text = ""
        payload = event.payload.model_dump_json(exclude={"text", "context"})
    else:
        payload = event.payload.model_dump_json()
    return [
        event.tenant, event.event_id, event.source, event.kind.value, event.item_id, event.author,
        event.occurred_at, _kafka_time(record), getattr(event.payload, "lang", None) or "",
        text, payload, digest,
    ]  # fmt: skip


def _kafka_time(record: ConsumerRecord) -> datetime:
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


EVENTS = Table(
    "events",
    ("tenant", "event_id", "source", "kind", "item_id", "author", "occurred_at", "received_at",
     "lang", "text", "payload", "content_sha256"),
    event_row,
)  # fmt: skip
VERDICTS = record_table("verdicts", VERDICT_ROWS, _without_rewrite)
MEDIA_VERDICTS = record_table("media_verdicts", MEDIA_VERDICT_ROWS)
BANK_ENTRIES = record_table("bank_entries", BANK_ENTRY_ROWS)
STRIKES = record_table("strikes", STRIKE_ROWS)
AUTHOR_BLOCK_CHANGES = record_table("author_blocks", BLOCK_CHANGE_ROWS)
DEAD = record_table("dead_letters", DEAD_LETTER_ROWS, _digest_if_private)
RULE_SHADOW = record_table("rule_shadow", SHADOW_ROWS)
ACTIONS = record_table("moderation_actions", ACTION_ROWS)
NOTICES = record_table("moderation_notices", NOTICE_ROWS)
TABLES = (
    EVENTS, VERDICTS, MEDIA_VERDICTS, BANK_ENTRIES, STRIKES, AUTHOR_BLOCK_CHANGES, DEAD,
    RULE_SHADOW, ACTIONS, NOTICES,
)  # fmt: skip


def dead_letter_row(d: DeadLetter, private: IsPrivate = _nobody) -> Row:
    return DEAD_LETTER_ROWS.row(_digest_if_private(d, private))


@dataclass(frozen=True, slots=True)
class Route:
    table: Table
    dead_letter_invalid: bool
    """False where a worker upstream already dead-letters this topic's bad records."""


ROUTES: dict[str, Route] = {
    EVENTS_TEXT.name: Route(EVENTS, dead_letter_invalid=False),
    EVENTS_MEDIA.name: Route(EVENTS, dead_letter_invalid=False),
    EVENTS_ACTIVITY.name: Route(EVENTS, dead_letter_invalid=True),
    EVENTS_JUDGED.name: Route(EVENTS, dead_letter_invalid=True),
    VERDICTS_TEXT.name: Route(VERDICTS, dead_letter_invalid=True),
    VERDICTS_MEDIA.name: Route(MEDIA_VERDICTS, dead_letter_invalid=True),
    MEDIA_BANKS.name: Route(BANK_ENTRIES, dead_letter_invalid=True),
    DEAD_LETTERS.name: Route(DEAD, dead_letter_invalid=False),
    AUTHOR_STRIKES.name: Route(STRIKES, dead_letter_invalid=True),
    AUTHOR_BLOCKS.name: Route(AUTHOR_BLOCK_CHANGES, dead_letter_invalid=True),
    RULES_SHADOW.name: Route(RULE_SHADOW, dead_letter_invalid=True),
    MODERATION_ACTIONS.name: Route(ACTIONS, dead_letter_invalid=True),
    MODERATION_NOTICES.name: Route(NOTICES, dead_letter_invalid=True),
}


def rows_for(
    records: Sequence[ConsumerRecord], private: IsPrivate = _nobody
) -> dict[Table, list[Row]]:
    """Group a batch into rows per table; unparseable records become dead-letter rows, built as
    the workers build theirs (`infra/dead_letters.py`). `private(tenant)` says whose text must not
    be stored (privacy mode)."""
    out: dict[Table, list[Row]] = defaultdict(list)
    now = datetime.now(UTC)
    for record in records:
        route = ROUTES[record.topic]
        keep = _everybody if _hash_only(record) else private
        try:
            out[route.table].append(route.table.to_row(record, keep))
        except InvalidEvent as exc:
            if route.dead_letter_invalid:
                dead = dead_letter(record, exc, now)
                metrics.DEAD_LETTERS.labels(dead.reason.value).inc()
                out[DEAD].append(dead_letter_row(dead, keep))
    return out


class WarehouseSink:
    """Consumes the catalogue's topics into the warehouse until `stop()`."""

    def __init__(
        self,
        warehouse: Warehouse,
        bootstrap: str,
        *,
        group_id: str = SINK_GROUP,
        batch_size: int = 5_000,
        flush_interval: float = 1.0,
        topics: Sequence[str] = tuple(ROUTES),
        on_flush: Callable[[dict[Table, list[Row]]], None] | None = None,
        privacy: PrivacyRegistry | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.privacy = privacy
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_flush = on_flush
        self.flushed = 0
        self._stopping = asyncio.Event()
        self._lag: SinkLag | None = None
        self._topics, self._bootstrap, self._group_id = tuple(topics), bootstrap, group_id

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Each fetch that finds records costs the durable embedded broker a listing of its
            # object store; records wait for the batch window anyway, so fetch less often.
            fetch_max_wait_ms=int(min(self.flush_interval, 0.5) * 1000),
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_records=self.batch_size,
        )

    async def run(self, lag_interval: float | None = None) -> None:
        """Consume until `stop()`. A broker that goes away (restarts, a rebalance that fails a
        commit) costs a reconnection with back-off, never the sink: what was not committed is
        read again, and the tables are idempotent. With `lag_interval`, the lag of each
        partition it is assigned is measured that often, for the metrics."""
        watch = None
        if lag_interval is not None:  # 0: after every batch, and no watch of stalls
            self._lag = SinkLag(self._bootstrap, self._group_id, self._topics, lag_interval)
            if lag_interval:
                watch = asyncio.create_task(self._lag.while_stalled())
        try:
            await self._run()
        finally:
            if watch is not None:
                watch.cancel()

    async def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            consumer = self._new_consumer()
            try:
                await consumer.start()
                log.info("warehouse sink started (%s)", self.warehouse.url.split("@")[-1])
                while not self._stopping.is_set():
                    if await self._consume(consumer):
                        delay = 0.5
            except KafkaError as exc:
                if self._stopping.is_set():
                    break
                log.warning(
                    "sink lost the broker (%s); reconnecting in %.1fs, offsets since the last "
                    "flush will be read again", exc, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> int:
        # One insert per interval under a steady trickle (synchronous moderation's events and
        # verdicts), not one per fetch: an insert costs the embedded warehouse about as much for
        # ten rows as for a thousand, CPU the API process it runs in needs for requests.
        records = await take_batch(consumer, self.batch_size, self.flush_interval)
        for topic, n in Counter(r.topic for r in records).items():
            metrics.EVENTS_IN.labels(topic).inc(n)
        if records:
            metrics.BATCH_SIZE.labels("sink").observe(len(records))
            private = await self._privacy_modes()
            await self._flush(rows_for(records, private))
            await consumer.commit(next_offsets(records))
            self.flushed += len(records)
        if self._lag is not None:
            await self._lag.after_batch(consumer)
        return len(records)

    async def _flush(self, rows: dict[Table, list[Row]]) -> None:
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self._write, rows)
                return
            except WarehouseError as exc:
                if self._stopping.is_set():
                    raise
                metrics.SINK_RETRIES.inc()
                log.warning("warehouse insert failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _privacy_modes(self) -> IsPrivate:
        """Who is in privacy mode, fresh within the registry's TTL. If the accounts store cannot
        be read, wait and retry: storing a private tenant's text is not an option."""
        if self.privacy is None:
            return _nobody
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self.privacy.refresh)
                return self.privacy.is_private
            except AccountsError as exc:
                if self._stopping.is_set():
                    raise
                log.warning("cannot read privacy modes (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _write(self, rows: dict[Table, list[Row]]) -> None:
        started = time.perf_counter()
        for table, table_rows in rows.items():
            self.warehouse.insert(table.name, table_rows, table.columns)
            metrics.SINK_ROWS.labels(table.name).inc(len(table_rows))
        metrics.SINK_FLUSH_SECONDS.observe(time.perf_counter() - started)
        if self.on_flush:
            self.on_flush(rows)
        log.debug("flushed %d rows in %.0f ms", sum(map(len, rows.values())),
                  (time.perf_counter() - started) * 1000)  # fmt: skip

    def stop(self) -> None:
        self._stopping.set()
