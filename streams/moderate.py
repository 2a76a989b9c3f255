"""Synchronous moderation: one item judged now, by the worker's own pipeline code.

`POST /v1/moderate` (and the Perspective- and OpenAI-compatible routes) must answer the full
verdict within a deadline, which a round trip through `events.text` and a Faust worker cannot
promise (its consumer waits up to 1.5 s per fetch). So the judge service (`modstream assist`)
runs a `TextPipeline` of its own, built as the worker's (the cascade, thread context, rewrites,
the tenant's live policy and rules, the shared dedupe store and rule counters), and the API
publishes the verdict it answers on `verdicts.text`, where the sink, strikes and the live feed
take it like any worker's. The event itself goes to `events.judged`, which the sink stores and
no worker reads: an item is judged once and has one verdict.

An item sent again with the same id (a client's retry, or a retry after a 504) gets its first
verdict back (`replayed`), from the `moderated` table of the dedupe store, without judging again.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from infra.errors import Conflict, InvalidInput
from infra.settings import Settings
from schemas.moderate import ModerateAnswer, ModerateQuery, SentenceScore
from schemas.records import Verdict
from schemas.topics import EVENTS_JUDGED
from streams.dedupe import DedupeStore, Memory, dedupe_store, digest, flush
from streams.pipeline import RawRecord, TextPipeline
from streams.policy import DecisionPolicy, Policies
from streams.rules.counters import COUNTERS_FILE

__all__ = ["REQUEST_POLICY", "Moderator", "moderator_from_settings", "sentences"]

REQUEST_POLICY = "request:"
"""Prefix of `policy_version` when a request's thresholds decided."""

_SENTENCE = re.compile(r"[^.!?؟\n]+(?:[.!?؟]+|\n|$)")
_STRIPES = 64


def sentences(text: str) -> list[tuple[int, int]]:
    """[begin, end) of each sentence (split after . ! ? ؟ and at line ends; spaces trimmed)."""
    out = []
    for found in _SENTENCE.finditer(text):
        begin, end = found.span()
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            out.append((begin, end))
    return out


@dataclass(frozen=True, slots=True)
class _Only:
    """One policy for every tenant: the request's bands over its tenant's policy."""

    policy: DecisionPolicy

    def for_tenant(self, tenant: str) -> DecisionPolicy:
        return self.policy


class Moderator:
    """Judges one item at a time, thread-safe; the same item id is judged once."""

    def __init__(
        self, pipeline: TextPipeline, *, cache_size: int = 200_000, store: DedupeStore | None
    ) -> None:
        self.pipeline = pipeline
        self._verdicts: Memory[str] = Memory(cache_size, store, "moderated")
        self._memory_lock = threading.Lock()
        self._item_locks = [threading.Lock() for _ in range(_STRIPES)]

    @property
    def policies(self) -> Policies:
        return self.pipeline.policies

    def judge(self, query: ModerateQuery) -> ModerateAnswer:
        """The item's verdict: its first one if this id was judged here before. Raises
        `Conflict` when a worker judged the same item under another event id, `InvalidInput`
        when the pipeline refuses the event."""
        event = query.event
        item = digest(event.tenant, event.source, event.item_id)
        with self._item_locks[item[0] % _STRIPES]:  # two retries at once: one judges
            with self._memory_lock:
                self._verdicts.load([item])
                first = self._verdicts.get(item)
            if first is not None:
                verdict, replayed = Verdict.model_validate_json(first), True
            else:
                verdict, replayed = self._judge(query), False
                with self._memory_lock:
                    self._verdicts.put(item, verdict.model_dump_json())
                    flush(self._verdicts)  # type: ignore[arg-type]
        scored = self._sentences(event.text, verdict) if query.sentences else []
        return ModerateAnswer(verdict=verdict, replayed=replayed, sentences=scored)

    def _judge(self, query: ModerateQuery) -> Verdict:
        event = query.event
        record = RawRecord(
            EVENTS_JUDGED.name, 0, 0, event.partition_key.encode(), event.model_dump_json().encode()
        )
        policies: Policies | None = None
        if query.thresholds is not None:
            base = self.policies.for_tenant(event.tenant)
            policies = _Only(DecisionPolicy.from_document(query.thresholds, base))
        result = self.pipeline.process([record], policies)
        if result.dead_letters:
            letter = result.dead_letters[0]
            raise InvalidInput(letter.reason.value, letter.detail[:500])
        if not result.verdicts:
            raise Conflict(
                "already_judged",
                f"item {event.item_id!r} of source {event.source!r} was judged before under "
                "another event id; read its verdict with GET /v1/posts?item_id=…",
            )
        verdict = result.verdicts[0]
        if policies is not None:
            verdict = verdict.model_copy(
                update={"policy_version": REQUEST_POLICY + verdict.policy_version}
            )
        return verdict

    def _sentences(self, text: str, verdict: Verdict) -> list[SentenceScore]:
        """Each sentence scored on its own (the whole text's scores when there is one)."""
        spans = sentences(text)
        if len(spans) <= 1:
            begin, end = spans[0] if spans else (0, len(text))
            return [SentenceScore(begin=begin, end=end, toxic=verdict.toxic, labels=verdict.scores)]
        scores = self.pipeline.classifier.classify(
            [text[b:e] for b, e in spans],
            [verdict.lang if verdict.lang != "und" else None] * len(spans),
        )
        return [
            SentenceScore(begin=b, end=e, toxic=s.toxic, labels=s.labels)
            for (b, e), s in zip(spans, scores, strict=True)
        ]


def moderator_from_settings(settings: Settings, policies: Policies) -> Moderator:
    """The worker's pipeline (`text_pipeline`'s parts) deciding with `policies` and the tenants'
    live rules; it composes several sections, so it takes the whole settings.

    The rules count in the worker's counters file, read through on every item (no memory of
    entities): what the worker counted and flushed is counted here, as it would be there."""
    from streams.rules.counters import CounterStore
    from streams.rules.engine import RuleEngine
    from streams.rules.live import live_rules
    from streams.text.context import ContextJudge
    from streams.text.load import TierOptions, load_classifier

    tiers = TierOptions.from_settings(settings.text, settings.longtext)
    classifier = load_classifier(settings.models_path, tiers)
    store = dedupe_store(settings.dedupe, settings.data_dir)
    rules = RuleEngine(
        live_rules(settings.accounts_db_url),
        CounterStore(settings.data_dir / COUNTERS_FILE, capacity=0),
        refresh_every=settings.policy.refresh,
    )
    pipeline = TextPipeline(
        classifier,
        policies,
        cache_size=settings.dedupe.cache_size,
        context=ContextJudge(classifier, max_items=settings.text.context_max_items),
        store=store,
        rules=rules,
    )
    return Moderator(pipeline, cache_size=settings.dedupe.cache_size, store=store)
