"""The text pipeline as plain Python: decode → validate → dedupe → classify → decide → verdict.

Around the model: a post's thread context is weighed in (`streams/text/context.py`), and toxic
items (review or reject) get a rewrite suggestion from the offline rewriter, in one batch.

`TextPipeline.process` takes a batch of raw Kafka records and returns what to publish. It knows
nothing of Faust, so most of its behaviour is tested without a broker; the agent in
`classify_text.py` only moves records in and out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from infra.dead_letters import dead_letter, decode_event
from infra.errors import InvalidEvent
from schemas.events import ChatMessageEvent, PostEvent
from schemas.records import ContextEffect, DeadLetter, DeadLetterReason, Decision, Verdict
from streams.dedupe import DedupeStore, Memory, content_key, digest, flush
from streams.policy import Policies
from streams.rules.engine import RuleEngine
from streams.text.classifier import Classifier, TextScores
from streams.text.context import ContextJudge
from streams.text.rewrite import OfflineRewriter, Rewrite, Rewriter, RewriteRequest

log = logging.getLogger(__name__)

TextEvent = PostEvent | ChatMessageEvent


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def raw_record(message: Any) -> RawRecord:
    """A Kafka message (Faust's or aiokafka's) as the pipelines take it."""
    return RawRecord(message.topic, message.partition, message.offset, message.key, message.value)


@dataclass(slots=True)
class BatchResult:
    verdicts: list[Verdict] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    reused_scores: int = 0
    model: ModelStats | None = None  # None when every text was judged before


@dataclass(frozen=True, slots=True)
class ModelStats:
    """What the classifier did for one batch, for the worker's metrics (the pipeline may run in a
    child process, whose own counters nobody scrapes)."""

    texts: int
    seconds: float  # the whole classify call
    escalated: int  # texts (windows) sent on to the second tier
    second_tier_seconds: float


def decode(record: RawRecord) -> TextEvent:
    """Parse one record into a text event, or raise `InvalidEvent` with the reason."""
    event = decode_event(record.value)
    if not isinstance(event, PostEvent | ChatMessageEvent):
        raise InvalidEvent(
            DeadLetterReason.WRONG_TOPIC,
            f"kind {event.kind.value!r} does not belong on {record.topic}",
        )
    return event


@dataclass(frozen=True, slots=True)
class _Scored:
    event_id: str
    text: str
    scores: TextScores

    def encode(self) -> str:
        s = self.scores
        return json.dumps([self.event_id, self.text, s.toxic, s.labels, s.lang, s.spans])

    @staticmethod
    def decode(raw: str) -> _Scored:
        event_id, text, toxic, labels, lang, spans = json.loads(raw)
        return _Scored(event_id, text, TextScores(toxic, labels, lang, [tuple(x) for x in spans]))


def realign(
    old_text: str, spans: Sequence[tuple[int, int]], new_text: str
) -> list[tuple[int, int]]:
    """Find the words of `spans` (in `old_text`) again in `new_text`, in order, ignoring case."""
    haystack = new_text.casefold()
    out: list[tuple[int, int]] = []
    cursor = 0
    for start, end in spans:
        needle = old_text[start:end].casefold()
        at = haystack.find(needle, cursor) if needle else -1
        if at >= 0 and len(needle) == end - start:  # casefold kept the length: offsets hold
            out.append((at, at + len(needle)))
            cursor = at + len(needle)
    return out


class TextPipeline:
    """Judges batches of text events. One instance per worker process (it holds the caches)."""

    def __init__(
        self,
        classifier: Classifier,
        policies: Policies,
        *,
        cache_size: int = 200_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        context: ContextJudge | None = None,
        rewriter: Rewriter | None = None,
        store: DedupeStore | None = None,
        rules: RuleEngine | None = None,
    ) -> None:
        self.classifier = classifier
        self.policies = policies
        self.rules = rules
        self.context = context or ContextJudge(classifier)
        self.rewriter = rewriter or OfflineRewriter(classifier)
        self._clock = clock
        self._judged: Memory[str] = Memory(cache_size, store, "text_items")
        self._scored: Memory[_Scored] = Memory(
            cache_size, store, "text_scores", _Scored.encode, _Scored.decode
        )
        self._lock = threading.Lock()

    def process(
        self, records: Sequence[RawRecord], policies: Policies | None = None
    ) -> BatchResult:
        """Judge a batch. Thread-safe: batches may be processed concurrently (the caches are
        locked; the model runs outside the lock). `policies` stand in for the pipeline's own
        for this batch (a synchronous request's thresholds)."""
        result = BatchResult()
        if self.rules is not None:
            self.rules.maybe_refresh()
        decoded: list[TextEvent] = []
        for record in records:
            try:
                decoded.append(decode(record))
            except InvalidEvent as exc:
                result.dead_letters.append(dead_letter(record, exc, self._clock()))
        fresh: list[TextEvent] = []
        items = [digest(e.tenant, e.source, e.item_id) for e in decoded]
        with self._lock:
            self._judged.load(items)
            for event, item in zip(decoded, items, strict=True):
                first = self._judged.get(item)
                if first is not None and first != event.event_id:
                    result.duplicates += 1  # another event already carried this item
                    continue
                self._judged.put(item, event.event_id)
                fresh.append(event)
        if fresh:
            result.verdicts = self._judge(fresh, result, policies or self.policies)
        with self._lock:  # remembered before the verdicts are published (see streams/dedupe.py)
            flush(self._judged, self._scored)  # type: ignore[arg-type]
        if self.rules is not None:
            self.rules.flush()  # counted before published, as the dedupe memory is
        return result

    def _judge(
        self, events: list[TextEvent], result: BatchResult, policies: Policies
    ) -> list[Verdict]:
        model = self.classifier.version
        keys = [content_key(e.tenant, e.text, model) for e in events]
        scores: dict[bytes, _Scored] = {}
        todo: dict[bytes, TextEvent] = {}
        with self._lock:
            self._scored.load(keys)
            for key, event in zip(keys, events, strict=True):
                cached = self._scored.get(key)
                if cached is not None:
                    scores[key] = cached
                elif key not in todo:
                    todo[key] = event
        if todo:
            started = time.perf_counter()
            fresh = self.classifier.classify(
                [e.text for e in todo.values()], [e.payload.lang for e in todo.values()]
            )
            result.model = ModelStats(
                len(todo), time.perf_counter() - started,
                self.classifier.last_escalated, self.classifier.last_second_tier_seconds,
            )  # fmt: skip
            with self._lock:
                for (key, event), score in zip(todo.items(), fresh, strict=True):
                    scores[key] = _Scored(event.event_id, event.text, score)
                    self._scored.put(key, scores[key])
        own: list[TextScores] = []
        duplicates: list[str | None] = []
        for key, event in zip(keys, events, strict=True):
            scored = scores[key]
            score = scored.scores
            duplicate_of = None
            if scored.event_id != event.event_id:
                duplicate_of = scored.event_id
                result.reused_scores += 1
                if scored.text != event.text:  # same words, other case or spacing
                    score = replace(score, spans=realign(scored.text, score.spans, event.text))
            own.append(score)
            duplicates.append(duplicate_of)
        weighed = self.context.judge(
            [(e.text, s, _context_of(e)) for e, s in zip(events, own, strict=True)]
        )
        rewrites = self._rewrites(events, [w.scores for w in weighed], policies)
        now = self._clock()
        return [
            self._verdict(policies, event, w.scores, duplicate_of, now, rewrite, w.effect)
            for event, w, duplicate_of, rewrite in zip(
                events, weighed, duplicates, rewrites, strict=True
            )
        ]

    def _rewrites(
        self, events: list[TextEvent], scores: list[TextScores], policies: Policies
    ) -> list[Rewrite | None]:
        """A suggestion for each item its tenant's policy does not approve (one batch)."""
        wanted: dict[tuple[str, str], RewriteRequest] = {}
        keys: list[tuple[str, str] | None] = []
        for event, score in zip(events, scores, strict=True):
            policy = policies.for_tenant(event.tenant)
            if policy.decide(score.toxic, score.labels, score.lang) is Decision.APPROVE:
                keys.append(None)
                continue
            key = (event.text, policy.version)
            wanted.setdefault(key, RewriteRequest(event.text, score, policy))
            keys.append(key)
        if not wanted:
            return [None] * len(events)
        done = dict(zip(wanted, self.rewriter.rewrite(list(wanted.values())), strict=True))
        return [None if k is None else done[k] for k in keys]

    def _verdict(
        self,
        policies: Policies,
        event: TextEvent,
        score: TextScores,
        duplicate_of: str | None,
        now: datetime,
        rewrite: Rewrite | None = None,
        context: ContextEffect | None = None,
    ) -> Verdict:
        policy = policies.for_tenant(event.tenant)
        verdict = Verdict(
            event_id=event.event_id,
            tenant=event.tenant,
            source=event.source,
            kind=event.kind,
            item_id=event.item_id,
            author=event.author,
            occurred_at=event.occurred_at,
            judged_at=now,
            decision=policy.decide(score.toxic, score.labels, score.lang),
            toxic=score.toxic,
            scores=score.labels,
            lang=score.lang,
            spans=score.spans,
            model_version=self.classifier.version,
            policy_version=policy.version,
            duplicate_of=duplicate_of,
            latency_ms=max(0.0, (now - event.occurred_at).total_seconds() * 1000),
            rewrite=None if rewrite is None else rewrite.record(),
            context=context,
        )
        # The tenant's rules: after the models and the policy, before the verdict leaves.
        return verdict if self.rules is None else self.rules.apply(verdict, event)


def _context_of(event: TextEvent) -> list[str]:
    return list(event.payload.context) if isinstance(event, PostEvent) else []
