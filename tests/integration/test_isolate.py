"""One bad event never stops the worker: an event that makes judging raise, or kills the
pipeline's child process, is dead-lettered and the rest of its batch judged; a crash that was
not the event's doing costs a restart, not a dead letter.

The faults are injected by a classifier that wraps the real fast tier and fails on marked texts,
standing in for a native crash (segfault, OOM kill) that no real input here can trigger."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.settings import Settings
from schemas.records import DeadLetterReason
from streams.isolate import Isolating
from streams.pipeline import RawRecord, TextPipeline
from streams.pipeline_process import InProcess, Outgoing, PipelineProcess
from streams.policy import LivePolicies, PolicyBook
from streams.text.classifier import Classifier, TextScores
from streams.text.load import load_classifier
from tests.support.classifiers import Wrapping
from tests.support.events import records

RAISES = "\u2620raise"
CRASHES = "\u2620crash"
CRASHES_ONCE = "\u2620once"  # kills the first process that judges it, not the next


class Faulty(Wrapping):
    def __init__(self, inner: Classifier, marker: Path) -> None:
        super().__init__(inner)
        self.marker = marker

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        if any(RAISES in t for t in texts):
            raise RuntimeError("the model choked")
        if any(CRASHES in t for t in texts):
            os._exit(70)
        if any(CRASHES_ONCE in t for t in texts) and not self.marker.exists():
            self.marker.touch()
            os._exit(70)
        return self.inner.classify(texts, langs)


def faulty_pipeline(settings: Settings) -> tuple[TextPipeline, LivePolicies]:
    """The child's pipeline (imported by name in the child)."""
    classifier = Faulty(load_classifier(settings.models_path), settings.data_dir / "crashed")
    policies = LivePolicies(PolicyBook(), dict)
    return TextPipeline(classifier, policies, cache_size=1000), policies


def judged(out: Outgoing) -> tuple[list[str], dict[str | None, tuple[str, str]]]:
    """(event ids with a verdict, in order; {event id: (reason, detail)} of the dead letters)."""
    verdicts = [json.loads(v)["event_id"] for _, _, v in out.records[: out.verdicts]]
    letters: dict[str | None, tuple[str, str]] = {}
    for _, _, value in out.records[out.verdicts :]:
        doc = json.loads(value)
        letters[doc["event_id"]] = (doc["reason"], doc["detail"])
    assert len(letters) == len(out.dead_letters)
    return verdicts, letters


@pytest.fixture
def env(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MODSTREAM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MODSTREAM_DATA_DIR", str(tmp_path))
    return Settings()


def test_an_event_that_makes_the_model_raise_is_dead_lettered_and_the_rest_judged(
    env: Settings,
) -> None:
    pipeline, _ = faulty_pipeline(env)
    batch = records("hello there", "you are an idiot", f"x {RAISES}", "fine day")
    batch.append(RawRecord("events.text", 0, 4, b"demo:user-1", b"{not json"))
    verdicts, letters = judged(Isolating(InProcess(pipeline)).process(batch))
    assert verdicts == ["e0", "e1", "e3"]
    assert set(letters) == {"e2", None}  # the malformed record has no event id
    assert letters["e2"][0] == DeadLetterReason.PROCESSING_ERROR
    assert "the model choked" in letters["e2"][1]
    assert letters[None][0] == DeadLetterReason.INVALID_JSON


def test_an_event_that_kills_the_child_is_dead_lettered_and_the_child_restarted(
    env: Settings,
) -> None:
    child = PipelineProcess(faulty_pipeline)
    try:
        judge = Isolating(child)
        batch = records("one", "two", "three", f"four {CRASHES}", "five", "six", "seven")
        verdicts, letters = judged(judge.process(batch))
        assert verdicts == ["e0", "e1", "e2", "e4", "e5", "e6"]
        reason, detail = letters["e3"]
        assert reason == DeadLetterReason.PROCESSING_ERROR
        assert "process died" in detail
        # The restarted child goes on judging.
        assert judged(judge.process(records("after", "the crash"))) == (["e0", "e1"], {})
    finally:
        child.close()


def test_a_crash_that_does_not_repeat_costs_a_restart_not_a_dead_letter(env: Settings) -> None:
    child = PipelineProcess(faulty_pipeline)
    try:
        out = Isolating(child).process(records("a", f"b {CRASHES_ONCE}", "c"))
        assert judged(out) == (["e0", "e1", "e2"], {})
        assert (env.data_dir / "crashed").exists()  # it did crash once
    finally:
        child.close()
