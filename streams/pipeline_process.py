"""The text pipeline in a child process, so the worker's event loop only moves bytes.

Judging a batch is CPU-bound Python: decoding, the model, thread context, rewrites, building and
serialising the verdicts. In the worker process it competes for the GIL with the Faust event
loop that fetches and publishes; in a child process it has a core of its own, and the loop hands
it raw records and gets back the records to publish. One child per worker, so the dedupe caches
stay whole; a deployment scales by running more workers over more partitions.

The child builds its pipeline from the same settings as the worker (`text_pipeline`) and
re-reads tenant policies itself, every `MODSTREAM_POLICY_REFRESH` seconds, between batches.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Protocol

from infra.errors import JudgeCrashed, JudgeUnavailable
from infra.logging import configure_logging
from infra.processes import die_with_parent
from infra.settings import Settings, get_settings
from schemas.topics import DEAD_LETTERS, VERDICTS_TEXT
from streams.dedupe import dedupe_store, published_key
from streams.pipeline import BatchResult, ModelStats, RawRecord, TextPipeline
from streams.policy import LivePolicies, live_policies

__all__ = ["InProcess", "Judge", "Outgoing", "PipelineProcess", "outgoing", "text_pipeline"]

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
    return Outgoing(
        records=[
            (VERDICTS_TEXT.name, v.partition_key, v.model_dump_json()) for v in result.verdicts
        ]
        + [(DEAD_LETTERS.name, d.topic, d.model_dump_json()) for d in result.dead_letters],
        verdicts=len(result.verdicts),
        dead_letters=[
            (d.topic, d.partition, d.offset, d.reason.value, d.detail) for d in result.dead_letters
        ],
        duplicates=result.duplicates,
        reused_scores=result.reused_scores,
        keys=[published_key(v) for v in result.verdicts]
        + [published_key(d) for d in result.dead_letters],
        judged=[(v.decision.value, dict(v.scores)) for v in result.verdicts],
        models=[result.model] if result.model else [],
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
    pipeline = TextPipeline(
        classifier,
        policies,
        cache_size=settings.dedupe.cache_size,
        context=ContextJudge(classifier, max_items=settings.text.context_max_items),
        store=dedupe_store(settings.dedupe, settings.data_dir),
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
        self._pool = self._start()
        log.info("text pipeline in a child process (model %s)", self.model_version)

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded process
            initializer=_init,
            initargs=(self._build, os.getpid()),
        )
        try:
            self.model_version = pool.submit(_model_version).result()
        except BrokenProcessPool as exc:
            pool.shutdown(cancel_futures=True)
            raise JudgeUnavailable(
                "the text pipeline's child process could not start (its error is logged above)"
            ) from exc
        return pool

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
                self._pool = self._start()
                log.warning("text pipeline process restarted")

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
