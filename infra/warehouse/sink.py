"""The warehouse sink: Kafka topics → ClickHouse tables, in batches, committing only after a flush.

A failed insert is retried with back-off on the same batch and no offset moves until it lands, so
a crash loses nothing; the tables are ReplacingMergeTrees keyed by event, so the replay that
follows a crash counts nothing twice. A record that cannot be parsed is stored as a dead letter
unless a worker upstream already dead-letters that topic.

Privacy mode (`infra/accounts/privacy.py`): for a tenant in privacy mode the text never reaches
a table; `events` keeps its SHA-256 instead, and dead letters keep a digest of the raw record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from infra.accounts.privacy import PrivacyRegistry, sha256_hex
from infra.errors import AccountsError, InvalidEvent, WarehouseError
from infra.warehouse.client import Warehouse
from schemas.events import parse_event
from schemas.media import BankEntry, MatchKind, MediaVerdict
from schemas.records import DeadLetter, DeadLetterReason, Verdict
from schemas.strikes import BlockChange, Strike
from schemas.topics import (
    AUTHOR_BLOCKS,
    AUTHOR_STRIKES,
    DEAD_LETTERS,
    EVENTS_ACTIVITY,
    EVENTS_MEDIA,
    EVENTS_TEXT,
    MEDIA_BANKS,
    VERDICTS_MEDIA,
    VERDICTS_TEXT,
    tenant_from_key,
)

log = logging.getLogger(__name__)

Row = list[Any]
M = TypeVar("M", bound=BaseModel)
IsPrivate = Callable[[str | None], bool]


def _nobody(_: str | None) -> bool:
    return False


def _invalid(exc: ValidationError) -> InvalidEvent:
    """A schema violation, described without quoting the input (it may be private text)."""
    errors = exc.errors(include_url=False, include_input=False)
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in errors[:10])
    return InvalidEvent(DeadLetterReason.SCHEMA_VIOLATION, detail[:1000])


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]


EVENTS = Table(
    "events",
    ("tenant", "event_id", "source", "kind", "item_id", "author", "occurred_at", "received_at",
     "lang", "text", "payload", "content_sha256"),
)  # fmt: skip
VERDICTS = Table(
    "verdicts",
    ("tenant", "event_id", "source", "kind", "item_id", "author", "occurred_at", "judged_at",
     "decision", "toxic", "scores", "lang", "spans", "model_version", "policy_version",
     "duplicate_of", "latency_ms", "rewrite", "context"),
)  # fmt: skip
DEAD = Table(
    "dead_letters",
    ("topic", "partition", "offset", "reason", "detail", "raw", "raw_size", "tenant", "event_id",
     "failed_at"),
)  # fmt: skip


def event_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    try:
        event = parse_event(record.value or b"")
    except ValidationError as exc:
        raise _invalid(exc) from exc
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


def verdict_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    v = _parse(Verdict, record)
    return [
        v.tenant, v.event_id, v.source, v.kind.value, v.item_id, v.author, v.occurred_at,
        v.judged_at, v.decision.value, v.toxic, v.scores, v.lang, v.spans, v.model_version,
        v.policy_version, v.duplicate_of, v.latency_ms,
        v.rewrite.model_dump_json() if v.rewrite and not private(v.tenant) else "",
        v.context.model_dump_json() if v.context else "",
    ]  # fmt: skip


MEDIA_VERDICTS = Table(
    "media_verdicts",
    ("tenant", "event_id", "source", "item_id", "author", "occurred_at", "judged_at",
     "media_type", "url", "decision", "reason", "detail", "content_type", "size_bytes", "width",
     "height", "duration_s", "hashes", "matches", "matched_events", "scores", "model_version",
     "policy_version", "duplicate_of", "latency_ms"),
)  # fmt: skip
BANK_ENTRIES = Table(
    "bank_entries",
    ("tenant", "bank", "entry_id", "hash_type", "value", "label", "source", "decision", "status",
     "note", "updated_at"),
)  # fmt: skip


def media_verdict_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    v = _parse(MediaVerdict, record)
    matches = "[" + ",".join(m.model_dump_json() for m in v.matches) + "]"
    seen = sorted({m.event_id for m in v.matches if m.kind == MatchKind.SEEN and m.event_id})
    return [
        v.tenant, v.event_id, v.source, v.item_id, v.author, v.occurred_at, v.judged_at,
        v.media_type, v.url, v.decision.value, v.reason, v.detail, v.content_type, v.size_bytes,
        v.width, v.height, v.duration_s, [(h.hash_type.value, h.value, h.at_s) for h in v.hashes],
        matches, seen, v.scores, v.model_version, v.policy_version, v.duplicate_of, v.latency_ms,
    ]  # fmt: skip


def bank_entry_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    b = _parse(BankEntry, record)
    return [
        b.tenant, b.bank, b.entry_id, b.hash_type.value, b.value, b.label, b.source,
        b.decision.value, b.status.value, b.note, b.updated_at,
    ]  # fmt: skip


STRIKES = Table(
    "strikes",
    ("tenant", "author", "strike_id", "verdict_event_id", "source", "occurred_at", "strikes",
     "strike_limit", "window_s"),
)  # fmt: skip
AUTHOR_BLOCK_CHANGES = Table(
    "author_blocks",
    ("tenant", "author", "change_id", "action", "at", "actor", "strikes", "reason"),
)


def strike_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    s = _parse(Strike, record)
    return [
        s.tenant, s.author, s.strike_id, s.verdict_event_id, s.source, s.occurred_at, s.strikes,
        s.limit, s.window_s,
    ]  # fmt: skip


def block_change_row(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    b = _parse(BlockChange, record)
    return [b.tenant, b.author, b.change_id, b.action.value, b.at, b.actor, b.strikes, b.reason]


def dead_letter_row(d: DeadLetter, private: IsPrivate = _nobody) -> Row:
    detail, raw = d.detail, d.raw
    if private(d.tenant):  # a validation message or the raw record may quote the text
        detail, raw = d.reason.value, f"sha256:{sha256_hex(d.raw)}"
    return [
        d.topic, d.partition, d.offset, d.reason.value, detail, raw, d.raw_size, d.tenant,
        d.event_id, d.failed_at,
    ]  # fmt: skip


def _dead_letter_record(record: ConsumerRecord, private: IsPrivate = _nobody) -> Row:
    return dead_letter_row(_parse(DeadLetter, record), private)


def _parse(model: type[M], record: ConsumerRecord) -> M:
    """The record's value as `model`, or `InvalidEvent` saying why not."""
    try:
        return model.model_validate_json(record.value or b"")
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _kafka_time(record: ConsumerRecord) -> datetime:
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Route:
    table: Table
    to_row: Callable[[ConsumerRecord, IsPrivate], Row]
    dead_letter_invalid: bool
    """False where a worker upstream already dead-letters this topic's bad records."""


ROUTES: dict[str, Route] = {
    EVENTS_TEXT.name: Route(EVENTS, event_row, dead_letter_invalid=False),
    EVENTS_MEDIA.name: Route(EVENTS, event_row, dead_letter_invalid=False),
    EVENTS_ACTIVITY.name: Route(EVENTS, event_row, dead_letter_invalid=True),
    VERDICTS_TEXT.name: Route(VERDICTS, verdict_row, dead_letter_invalid=True),
    VERDICTS_MEDIA.name: Route(MEDIA_VERDICTS, media_verdict_row, dead_letter_invalid=True),
    MEDIA_BANKS.name: Route(BANK_ENTRIES, bank_entry_row, dead_letter_invalid=True),
    DEAD_LETTERS.name: Route(DEAD, _dead_letter_record, dead_letter_invalid=False),
    AUTHOR_STRIKES.name: Route(STRIKES, strike_row, dead_letter_invalid=True),
    AUTHOR_BLOCKS.name: Route(AUTHOR_BLOCK_CHANGES, block_change_row, dead_letter_invalid=True),
}


def rows_for(
    records: Sequence[ConsumerRecord], private: IsPrivate = _nobody
) -> dict[Table, list[Row]]:
    """Group a batch into rows per table; unparseable records become dead-letter rows.
    `private(tenant)` says whose text must not be stored (privacy mode)."""
    out: dict[Table, list[Row]] = defaultdict(list)
    for record in records:
        route = ROUTES[record.topic]
        try:
            out[route.table].append(route.to_row(record, private))
        except InvalidEvent as exc:
            if route.dead_letter_invalid:
                out[DEAD].append(dead_letter_row(_as_dead_letter(record, exc), private))
    return out


def _as_dead_letter(record: ConsumerRecord, exc: InvalidEvent) -> DeadLetter:
    value = record.value or b""
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=exc.reason,
        detail=exc.detail[:4000],
        raw=value[:16384].decode("utf-8", "replace"),
        raw_size=len(value),
        tenant=tenant_from_key(record.key),
        failed_at=datetime.now(UTC),
    )


class WarehouseSink:
    """Consumes the catalogue's topics into the warehouse until `stop()`."""

    def __init__(
        self,
        warehouse: Warehouse,
        bootstrap: str,
        *,
        group_id: str = "modstream-sink",
        batch_size: int = 5_000,
        flush_interval: float = 0.2,
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
        self._topics, self._bootstrap, self._group_id = tuple(topics), bootstrap, group_id

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_records=self.batch_size,
        )

    async def run(self) -> None:
        """Consume until `stop()`. A broker that goes away (restarts, a rebalance that fails a
        commit) costs a reconnection with back-off, never the sink: what was not committed is
        read again, and the tables are idempotent."""
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
        batch = await consumer.getmany(
            timeout_ms=int(self.flush_interval * 1000), max_records=self.batch_size
        )
        records = [r for part in batch.values() for r in part]
        if records:
            private = await self._privacy_modes()
            await self._flush(rows_for(records, private))
            await consumer.commit()
            self.flushed += len(records)
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
        if self.on_flush:
            self.on_flush(rows)
        log.debug("flushed %d rows in %.0f ms", sum(map(len, rows.values())),
                  (time.perf_counter() - started) * 1000)  # fmt: skip

    def stop(self) -> None:
        self._stopping.set()
