"""The text pipeline in child processes, so the worker's event loop only moves bytes.

Judging a batch is CPU-bound Python: decoding, the model, thread context, rewrites, building and
serialising the verdicts. In the worker process it competes for the GIL with the Faust event
loop that fetches and publishes; in a child process it has a core of its own, and the loop hands
it raw records and gets back the records to publish.

`Judges` runs several children (one per core by default) and splits each batch between them by
record key: the records of one key (a tenant's author) go to one child, in order, so per-author
order holds, and one item's copies (same author) meet in one child's dedupe memory. Children
share the dedupe store, flushed before a batch's verdicts are published.

The child builds its pipeline from the same settings as the worker (`text_pipeline`) and
re-reads tenant policies itself, every `MODSTREAM_POLICY_REFRESH` seconds, between batches.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Protocol

from infra.errors import JudgeCrashed, JudgeUnavailable
from infra.logging import configure_logging
from infra.processes import die_with_parent
from infra.rules.shadow import shadow_records
from infra.settings import Settings, get_settings
from schemas.topics import DEAD_LETTERS, RULES_SHADOW, VERDICTS_TEXT
from streams.dedupe import dedupe_store, digest, published_key
from streams.pipeline import BatchResult, ModelStats, RawRecord, TextPipeline
from streams.policy import LivePolicies, live_policies
from streams.rules.counters import COUNTERS_FILE, CounterStore
from streams.rules.engine import RuleEngine
from streams.rules.live import live_rules

__all__ = [
    "InProcess",
    "Judge",
    "Judges",
    "Outgoing",
    "PipelineProcess",
    "merge",
    "outgoing",
    "text_pipeline",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a batch publishes, already serialised: cheap to hand from the child to the loop."""

    records: list[tuple[str, str, str]]  # (topic, key, JSON value): verdicts, then dead letters
    verdicts: int
    # (topic, partition, offset, reason, detail), to log and count
    dead_letters: list[tuple[str, int, int, str, str]]
    duplicates: int
    reused_scores: int
    keys: list[bytes] = field(default_factory=list)  # each record's key in the published ledger
    judged: list[tuple[str, dict[str, float]]] = field(default_factory=list)  # decision, scores
    models: list[ModelStats] = field(default_factory=list)  # what the classifier did


def outgoing(result: BatchResult) -> Outgoing:
    shadow = [s for v in result.verdicts for s in shadow_records(v)]
    return Outgoing(
        records=[
            (VERDICTS_TEXT.name, v.partition_key, v.model_dump_json()) for v in result.verdicts
        ]
        + [(DEAD_LETTERS.name, d.topic, d.model_dump_json()) for d in result.dead_letters]
        + [(RULES_SHADOW.name, s.partition_key, s.model_dump_json()) for s in shadow],
        verdicts=len(result.verdicts),
        dead_letters=[
            (d.topic, d.partition, d.offset, d.reason.value, d.detail) for d in result.dead_letters
        ],
        duplicates=result.duplicates,
        reused_scores=result.reused_scores,
        keys=[published_key(v) for v in result.verdicts]
        + [published_key(d) for d in result.dead_letters]
        + [digest("shadow", s.tenant, s.event_id, s.rule) for s in shadow],
        judged=[(v.decision.value, dict(v.scores)) for v in result.verdicts],
        models=[result.model] if result.model else [],
    )


def merge(parts: Sequence[Outgoing]) -> Outgoing:
    """One batch's output from its parts: every verdict (in order), then every dead letter."""
    return Outgoing(
        records=[r for p in parts for r in p.records[: p.verdicts]]
        + [r for p in parts for r in p.records[p.verdicts :]],
        verdicts=sum(p.verdicts for p in parts),
        dead_letters=[d for p in parts for d in p.dead_letters],
        duplicates=sum(p.duplicates for p in parts),
        reused_scores=sum(p.reused_scores for p in parts),
        keys=[k for p in parts for k in p.keys[: p.verdicts]]
        + [k for p in parts for k in p.keys[p.verdicts :]],
        judged=[j for p in parts for j in p.judged],
        models=[m for p in parts for m in p.models],
    )


class Judge(Protocol):
    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        """Judge a batch (blocking; the agent calls it off the event loop)."""


def text_pipeline(settings: Settings) -> tuple[TextPipeline, LivePolicies]:
    """The worker's text pipeline, and the live policies it decides with. It composes parts from
    several sections (models, policies, dedupe), in the worker or in its child process: so it
    takes the whole settings, and hands each part its section."""
    from streams.text.context import ContextJudge
    from streams.text.load import TierOptions, load_classifier

    tiers = TierOptions.from_settings(settings.text, settings.longtext)
    classifier = load_classifier(settings.models_path, tiers)
    policies = live_policies(settings.policy, settings.accounts_db_url)
    rules = RuleEngine(
        live_rules(settings.accounts_db_url),
        CounterStore(settings.data_dir / COUNTERS_FILE),
        refresh_every=settings.policy.refresh,
    )
    pipeline = TextPipeline(
        classifier,
        policies,
        cache_size=settings.dedupe.cache_size,
        context=ContextJudge(classifier, max_items=settings.text.context_max_items),
        store=dedupe_store(settings.dedupe, settings.data_dir),
        rules=rules,
    )
    return pipeline, policies


class InProcess:
    """The pipeline in the worker process (`MODSTREAM_WORKER_PIPELINE_PROCESS=false`); the worker
    refreshes its policies on a timer."""

    def __init__(self, pipeline: TextPipeline) -> None:
        self.pipeline = pipeline

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        return outgoing(self.pipeline.process(records))


# -- the child ----------------------------------------------------------------------------------

_child: _Child | None = None


@dataclass(slots=True)
class _Child:
    pipeline: TextPipeline
    policies: LivePolicies
    refresh_every: float
    refreshed: float

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        if time.monotonic() - self.refreshed >= self.refresh_every:
            self.policies.refresh()  # keeps the last known policies if the store is down
            self.refreshed = time.monotonic()
        return outgoing(self.pipeline.process(records))


def _init(build: Callable[[Settings], tuple[TextPipeline, LivePolicies]], parent: int) -> None:
    global _child
    die_with_parent(parent)  # and exit now if the worker died while this child was starting
    settings = get_settings()
    configure_logging(settings.log_level)
    pipeline, policies = build(settings)
    _child = _Child(pipeline, policies, settings.policy.refresh, time.monotonic())


def _process(records: Sequence[RawRecord]) -> Outgoing:
    assert _child is not None, "child process was not initialised"
    return _child.process(records)


def _model_version() -> str:
    assert _child is not None, "child process was not initialised"
    return _child.pipeline.classifier.version


class PipelineProcess:
    """`process` runs `TextPipeline.process` in one child process; it blocks its calling thread
    only. Starting waits until the child has loaded its models (and fails if it cannot).

    `build` makes the child's pipeline from the settings (a module-level function: the child
    imports it by name)."""

    def __init__(
        self, build: Callable[[Settings], tuple[TextPipeline, LivePolicies]] = text_pipeline
    ) -> None:
        self._build = build
        self._lock = threading.Lock()
        # Children are started from this one thread, which lives as long as this object: a
        # child is told to die with the thread that started it (`die_with_parent`), and a
        # replacement would otherwise start from whichever thread saw the crash.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="judge-spawner")
        self._pool = self._spawner.submit(self._start).result()
        log.info("text pipeline in a child process (model %s)", self.model_version)

    def _start(self, attempts: int = 3) -> ProcessPoolExecutor:
        for attempt in range(1, attempts + 1):
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded process
                initializer=_init,
                initargs=(self._build, os.getpid()),
            )
            try:
                self.model_version = pool.submit(_model_version).result()
                return pool
            except BrokenProcessPool:
                codes = [p.exitcode for p in (pool._processes or {}).values()]
                pool.shutdown(cancel_futures=True)
                log.error(
                    "text pipeline process died while starting (attempt %d of %d, exit %s)",
                    attempt, attempts, codes,
                )  # fmt: skip
                time.sleep(attempt)
        raise JudgeUnavailable(
            "the text pipeline's child process could not start (its error is logged above)"
        )

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        """Raises `JudgeCrashed` if the child died judging (a new one is then ready), or
        `JudgeUnavailable` if no new child could start."""
        pool = self._pool
        try:
            return pool.submit(_process, list(records)).result()
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise JudgeCrashed(f"the text pipeline's process died: {exc}") from exc

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:  # batches in flight on other threads saw the same crash
            if self._pool is broken:
                broken.shutdown(cancel_futures=True)
                self._pool = self._spawner.submit(self._start).result()
                log.warning("text pipeline process restarted")

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._spawner.shutdown()


def split(records: Sequence[RawRecord], parts: int) -> list[list[RawRecord]]:
    """`records` in `parts` groups (some may be empty), each key's records in one group and in
    order; a record without a key goes with its partition."""
    by_key: dict[bytes | int, list[RawRecord]] = {}
    for record in records:
        by_key.setdefault(record.key if record.key is not None else record.partition, []).append(
            record
        )
    groups: list[list[RawRecord]] = [[] for _ in range(max(1, parts))]
    # By a stable hash, so that one item's copies meet in one child's dedupe memory across
    # batches too (order would hold anyway: batches are judged one after another); keys are
    # many, so the groups come out near even.
    for key, recs in by_key.items():
        slot = zlib.crc32(key if isinstance(key, bytes) else str(key).encode()) % len(groups)
        groups[slot].extend(recs)
    return groups


class Judges:
    """`count` children judging one batch together (see the module docstring). A child that
    dies fails the whole batch (`JudgeCrashed`; `streams/isolate.py` then bisects it), and is
    replaced; the other children's parts are judged again, which is safe (same event ids)."""

    def __init__(
        self,
        count: int,
        build: Callable[[Settings], tuple[TextPipeline, LivePolicies]] = text_pipeline,
    ) -> None:
        # One after another (each loads its models), each from a thread of its own that lives
        # as long as it (see `PipelineProcess`).
        self.children = [PipelineProcess(build) for _ in range(count)]
        self._threads = ThreadPoolExecutor(count, thread_name_prefix="judge")
        self.model_version = self.children[0].model_version

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        work = [
            (child, group)
            for child, group in zip(self.children, split(records, len(self.children)), strict=True)
            if group
        ]
        if len(work) <= 1:
            return work[0][0].process(work[0][1]) if work else merge([])
        done = [self._threads.submit(child.process, group) for child, group in work]
        return merge([d.result() for d in done])  # waits for all: the first error is raised

    def close(self) -> None:
        self._threads.shutdown()
        for child in self.children:
            child.close()
