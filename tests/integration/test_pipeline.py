"""The text pipeline without Kafka, with the trained model: dead letters, dedupe, content reuse,
verdicts. Decoding alone: tests/unit/test_pipeline.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.records import DeadLetterReason, Decision
from streams.pipeline import TextPipeline
from streams.policy import DecisionPolicy, PolicyBook
from streams.text.load import load_classifier
from tests.support.events import as_json, post_event, raw


@pytest.fixture(scope="module")
def pipeline(model_dir: Path) -> TextPipeline:
    return TextPipeline(load_classifier(model_dir), PolicyBook(), cache_size=1000)


def test_a_batch_yields_verdicts_and_dead_letters_in_one_pass(pipeline: TextPipeline) -> None:
    good = post_event("p-good", "What a lovely afternoon in the park")
    bad = {"event_id": "p-bad", "tenant": "acme"}
    result = pipeline.process([raw(as_json(good)), raw(json.dumps(bad).encode(), offset=1)])
    assert [v.event_id for v in result.verdicts] == ["p-good"]
    [dead] = result.dead_letters
    assert (dead.offset, dead.reason, dead.tenant, dead.event_id) == (
        1, DeadLetterReason.SCHEMA_VIOLATION, "acme", "p-bad",
    )  # fmt: skip
    assert dead.raw == json.dumps(bad)


def test_verdict_carries_ids_scores_decision_and_latency(pipeline: TextPipeline) -> None:
    event = post_event("p-v", "you are a stupid idiot", author="bob", external_id="ext-1")
    [verdict] = pipeline.process([raw(as_json(event))]).verdicts
    assert (verdict.event_id, verdict.item_id, verdict.author) == ("p-v", "ext-1", "bob")
    assert verdict.decision is DecisionPolicy().decide(verdict.toxic)
    assert verdict.scores["toxic"] == verdict.toxic
    assert verdict.latency_ms >= 0
    assert verdict.judged_at >= verdict.occurred_at
    assert verdict.model_version == pipeline.classifier.version


def test_the_same_item_is_judged_once_even_within_a_batch(pipeline: TextPipeline) -> None:
    a = post_event("d-1", "hello", external_id="same")
    b = post_event("d-2", "hello", external_id="same")
    replay = post_event("d-1", "hello", external_id="same")  # the same event again: re-emitted
    result = pipeline.process([raw(as_json(a)), raw(as_json(b)), raw(as_json(replay))])
    assert [v.event_id for v in result.verdicts] == ["d-1", "d-1"]
    assert result.duplicates == 1


def test_items_are_told_apart_by_tenant_and_source(pipeline: TextPipeline) -> None:
    events = [
        post_event("t-1", "hi", external_id="x", tenant="one"),
        post_event("t-2", "hi", external_id="x", tenant="two"),
        post_event("t-3", "hi", external_id="x", tenant="one", source="chat"),
    ]
    result = pipeline.process([raw(as_json(e)) for e in events])
    assert len(result.verdicts) == 3


def test_identical_normalised_text_reuses_scores_without_the_model(
    model_dir: Path,
) -> None:
    calls: list[int] = []
    classifier = load_classifier(model_dir)
    pipeline = TextPipeline(classifier, PolicyBook())
    pipeline.classifier = _Spy(classifier, calls)  # type: ignore[assignment]
    first = post_event("c-1", "You STUPID idiot", external_id="i1")
    again = post_event("c-2", "you   stupid IDIOT", external_id="i2")
    other_tenant = post_event("c-3", "You STUPID idiot", external_id="i3", tenant="else")
    result = pipeline.process([raw(as_json(first))])
    result2 = pipeline.process([raw(as_json(again)), raw(as_json(other_tenant))])
    assert calls == [1, 1]  # the second batch ran the model once: for the other tenant only
    reused, separate = result2.verdicts
    assert reused.duplicate_of == "c-1"
    assert reused.toxic == result.verdicts[0].toxic
    assert separate.duplicate_of is None  # never point at another tenant's event
    assert result2.reused_scores == 1


class _Spy:
    def __init__(self, inner: object, calls: list[int]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def classify(self, texts: list[str], langs: list[str | None] | None = None) -> object:
        self._calls.append(len(texts))
        return self._inner.classify(texts, langs)  # type: ignore[attr-defined]


def test_policy_decides_from_the_overall_score(model_dir: Path) -> None:
    strict = DecisionPolicy(low=0.0, high=0.0)
    book = PolicyBook(tenants={"strict": strict})
    pipeline = TextPipeline(load_classifier(model_dir), book)
    calm = "a calm sentence about rain"
    lenient, harsh = pipeline.process(
        [
            raw(as_json(post_event("pol-1", calm))),
            raw(as_json(post_event("pol-2", calm, tenant="strict"))),
        ]
    ).verdicts
    assert lenient.decision is Decision.APPROVE
    assert harsh.decision is Decision.REJECT  # the same words, the tenant's own policy
    assert harsh.policy_version == strict.version != lenient.policy_version


def test_a_fixed_clock_sets_judged_at(model_dir: Path) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    pipeline = TextPipeline(load_classifier(model_dir), PolicyBook(), clock=lambda: moment)
    [verdict] = pipeline.process([raw(as_json(post_event("clk", "hi")))]).verdicts
    assert verdict.judged_at == moment
