"""The stream workers' figures, counted into the process's Prometheus registry (infra/metrics.py).

The text pipeline may judge in a child process: what it did (verdicts, dead letters, the tiers'
time, escalations) comes back with each batch's `Outgoing` and is counted here, in the worker,
whose endpoint Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra import metrics
from schemas.media import MediaVerdict
from schemas.records import DeadLetter
from schemas.topics import EVENTS_MEDIA, EVENTS_TEXT
from streams.pipeline_process import Outgoing


def count_text_batch(events: int, out: Outgoing) -> None:
    """Records published are counted as the broker acknowledges them (`ModstreamApp.produce`)."""
    metrics.EVENTS_IN.labels(EVENTS_TEXT.name).inc(events)
    metrics.BATCH_SIZE.labels("text").observe(events)
    for decision, scores in out.judged:
        metrics.count_verdict("text", decision, scores)
    for *_, reason, _detail in out.dead_letters:
        metrics.DEAD_LETTERS.labels(reason).inc()
    for model in out.models:
        metrics.TEXTS_SCORED.inc(model.texts)
        metrics.TEXTS_ESCALATED.inc(model.escalated)
        metrics.MODEL_SECONDS.labels("fast").observe(model.seconds - model.second_tier_seconds)
        if model.escalated:
            metrics.MODEL_SECONDS.labels("transformer").observe(model.second_tier_seconds)


def count_media_batch(
    events: int, verdicts: Sequence[MediaVerdict], dead: Sequence[DeadLetter]
) -> None:
    metrics.EVENTS_IN.labels(EVENTS_MEDIA.name).inc(events)
    metrics.BATCH_SIZE.labels("media").observe(events)
    for verdict in verdicts:
        metrics.count_verdict("media", verdict.decision.value, verdict.scores)
    for letter in dead:
        metrics.DEAD_LETTERS.labels(letter.reason.value).inc()
