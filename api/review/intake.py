"""Review intake: `review` verdicts become queue entries, and verdicts become webhook deliveries
for the endpoints that subscribed to them. It also carries out two actions of the tenant's live
rules (`rules.fired`; shadow rules never act): `queue "NAME"` puts the item in queue NAME
whatever the decision, and `webhook "NAME"` sends a `rule` record (`api/review/rule_hooks.py`).

A consumer group of its own reads `verdicts.text` and `verdicts.media` (an image or video the
media worker sends to review: a quarantined bank entry's match, a fetch it could not make); each
batch's `review` verdicts are enqueued in one transaction, its (text) webhook deliveries in
another, then the offsets are committed. A crash before the commit reads the batch again, and
both steps are idempotent (one entry per tenant and item; one delivery per endpoint and verdict
or rule record, `api/review/verdict_hooks.py`), so nothing is lost or doubled. The author's
strikes (for priority) are read from the warehouse, one query per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from api.review import items, queues, rule_hooks, verdict_hooks
from api.review.items import Subject
from infra.accounts import AccountsDB
from infra.errors import AccountsError, WarehouseError
from infra.kafka import next_offsets, take_batch
from infra.warehouse import Warehouse
from schemas.media import MediaVerdict
from schemas.moderation import Origin
from schemas.records import Decision, Verdict
from schemas.topics import READERS, REVIEW_GROUP, VERDICTS_MEDIA

log = logging.getLogger(__name__)

GROUP = REVIEW_GROUP
WINDOW = 0.5
"""Seconds a batch collects verdicts after its first: its queries, transactions and offset
commit are paid once per window under a steady flow, not once per fetch. The consumer's fetches
wait as long (each fetch that finds records costs the durable embedded broker a listing of its
object store)."""


def subject_of(verdict: Verdict) -> Subject:
    return Subject(
        tenant=verdict.tenant, event_id=verdict.event_id, item_id=verdict.item_id,
        author=verdict.author, source=verdict.source, kind=verdict.kind.value,
        occurred_at=verdict.occurred_at, lang=verdict.lang, scores=dict(verdict.scores),
        toxic=verdict.toxic, model_decision=verdict.decision.value,
    )  # fmt: skip


def media_subject_of(verdict: MediaVerdict) -> Subject:
    """An image or video as a queue entry: no language; its classifier's scores, if any, and
    the highest of them as its toxic score (for priority)."""
    return Subject(
        tenant=verdict.tenant, event_id=verdict.event_id, item_id=verdict.item_id,
        author=verdict.author, source=verdict.source, kind=verdict.kind.value,
        occurred_at=verdict.occurred_at, lang="und", scores=dict(verdict.scores),
        toxic=max(verdict.scores.values(), default=0.0), model_decision=verdict.decision.value,
    )  # fmt: skip


def strikes_of(warehouse: Warehouse, tenant: str, authors: Sequence[str]) -> dict[str, int]:
    """Each author's counted strikes (all of them still stored: priority needs no window)."""
    rows = warehouse.rows(
        "SELECT author, count() AS n FROM strikes FINAL WHERE tenant = {tenant:String} "
        "AND author IN {authors:Array(String)} AND NOT revoked GROUP BY author",
        {"tenant": tenant, "authors": list(authors)},
    )
    return {r["author"]: int(r["n"]) for r in rows}


def deliveries_of(accounts: AccountsDB, verdicts: Sequence[Verdict]) -> int:
    """Queue webhook deliveries of `verdicts` and of their rules' webhooks (once each); returns
    how many rows were added."""
    if not verdicts:
        return 0
    with accounts.session() as session:
        added = verdict_hooks.enqueue_verdicts(session, verdicts)
        return added + rule_hooks.enqueue_rules(session, verdicts)


def rule_queue(verdict: Verdict) -> str | None:
    """The queue the first live rule with a `queue` action named, if it can hold items (a valid
    queue name other than `appeals` and `escalations`; else the item is routed as usual). A
    name no queue is configured for is a queue all the same: it lists while it holds items."""
    for fired in verdict.rules.fired if verdict.rules else ():
        for action in fired.actions:
            if action.kind == "queue":
                if queues.named(action.value):
                    return action.value
                log.warning("review intake: %s: queue %r is not a queue name; routed as usual",
                            fired.rule, action.value)  # fmt: skip
    return None


def enqueue_all(
    accounts: AccountsDB, warehouse: Warehouse, verdicts: Sequence[Verdict | MediaVerdict]
) -> int:
    """Enqueue the `review` verdicts among `verdicts`, and any verdict a live rule sent to a
    queue (in that queue); returns how many."""
    by_tenant: dict[str, list[tuple[Subject, str | None]]] = defaultdict(list)
    for verdict in verdicts:
        if isinstance(verdict, MediaVerdict):
            if verdict.decision == Decision.REVIEW:
                by_tenant[verdict.tenant].append((media_subject_of(verdict), None))
            continue
        queue = rule_queue(verdict)
        if verdict.decision == Decision.REVIEW or queue is not None:
            by_tenant[verdict.tenant].append((subject_of(verdict), queue))
    now = datetime.now(UTC)
    count = 0
    for tenant, found in by_tenant.items():
        strikes = strikes_of(warehouse, tenant, sorted({s.author for s, _ in found}))
        with accounts.session() as session:
            for subject, queue in found:
                items.enqueue(
                    session, subject, strikes=strikes.get(subject.author, 0), now=now,
                    origin=Origin.VERDICT, queue=queue,
                )  # fmt: skip
                count += 1
    return count


class ReviewIntake:
    """Consumes `verdicts.text` and `verdicts.media` into the review queues until `stop()`."""

    def __init__(
        self,
        accounts: AccountsDB,
        warehouse: Warehouse,
        bootstrap: str,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.accounts, self.warehouse, self.bootstrap = accounts, warehouse, bootstrap
        self.on_queued = on_queued
        self.enqueued = self.hooked = 0
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *READERS[GROUP], bootstrap_servers=self.bootstrap,
                group_id=GROUP, enable_auto_commit=False, auto_offset_reset="earliest",
                fetch_max_wait_ms=int(WINDOW * 1000),  # fewer fetches: see `WINDOW`
                session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
            )  # fmt: skip
            try:
                await consumer.start()
                while not self._stopping.is_set():
                    await self._step(consumer)
                    delay = 0.5
            except (KafkaError, AccountsError, WarehouseError) as exc:
                if self._stopping.is_set():
                    break
                log.warning("review intake: %s; again in %.1fs (uncommitted is read again)", exc,
                            delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                await consumer.stop()

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        records = await take_batch(consumer, 1_000, WINDOW)
        if not records:
            return
        verdicts: list[Verdict] = []
        media: list[MediaVerdict] = []
        for record in records:
            try:
                if record.topic == VERDICTS_MEDIA.name:
                    media.append(MediaVerdict.model_validate_json(record.value or b""))
                else:
                    verdicts.append(Verdict.model_validate_json(record.value or b""))
            except ValidationError:
                continue  # the sink dead-letters it
        self.enqueued += await asyncio.to_thread(
            enqueue_all, self.accounts, self.warehouse, [*verdicts, *media]
        )
        hooked = await asyncio.to_thread(deliveries_of, self.accounts, verdicts)
        await consumer.commit(next_offsets(records))
        self.hooked += hooked
        if hooked and self.on_queued is not None:
            self.on_queued()

    def stop(self) -> None:
        self._stopping.set()
