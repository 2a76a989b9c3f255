"""Thread context: echoes and endorsements of a toxic parent are judged with it; a toxic parent
never makes a reply that stands on its own toxic; the effect is recorded. (Which replies lean on
their context: tests/unit/test_context.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from streams.text.classifier import Classifier, TextScores
from streams.text.context import ContextJudge
from streams.text.linear import LinearTextClassifier
from tests.support.classifiers import Wrapping

INSULT = "you are a stupid worthless idiot, shut up"
KIND = "Have a lovely weekend everyone, see you at the market!"


class Recording(Wrapping):
    """Passes through to a real classifier and records every text it is asked to score."""

    def __init__(self, inner: Classifier) -> None:
        super().__init__(inner)
        self.calls: list[list[str]] = []

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        self.calls.append(list(texts))
        return self.inner.classify(texts, langs)


@pytest.fixture(scope="module")
def fast(model_dir: Path) -> Classifier:
    return LinearTextClassifier.load(model_dir)


def test_together_is_bounded_and_oldest_first(fast: Classifier) -> None:
    judge = ContextJudge(fast, max_items=2, max_chars=5)
    assert judge.together("reply", ["parent text", "grandparent", "older"]) == "grand\nparen\nreply"
    assert judge.together("reply", ["", "  ", "p"]) == "p\nreply"


def test_an_echo_of_a_toxic_parent_is_raised(fast: Classifier) -> None:
    recording = Recording(fast)
    judge = ContextJudge(recording)
    items = [
        ("same to you", fast.classify(["same to you"])[0], [INSULT]),
        ("same to you", fast.classify(["same to you"])[0], [KIND]),
        ("please keep it civil", fast.classify(["please keep it civil"])[0], [INSULT]),
        ("so are you", fast.classify(["so are you"])[0], []),
    ]
    assert items[0][1].toxic < 0.5  # harmless alone
    echo_toxic, echo_kind, civil, alone = judge.judge(items)

    assert echo_toxic.scores.toxic > 0.5
    assert echo_toxic.effect is not None
    assert echo_toxic.effect.raised
    assert echo_toxic.effect.items == 1
    assert echo_toxic.effect.toxic_alone == pytest.approx(items[0][1].toxic)
    assert echo_toxic.effect.toxic_in_context == pytest.approx(echo_toxic.scores.toxic)
    assert echo_toxic.scores.labels["toxic"] == echo_toxic.scores.toxic
    assert echo_toxic.scores.spans == []  # nothing in the reply itself to point at

    assert echo_kind.scores == items[1][1]  # a kind parent changes nothing
    assert echo_kind.effect is not None
    assert not echo_kind.effect.raised

    assert civil.scores == items[2][1]  # a toxic parent does not make a civil reply toxic
    assert civil.effect is not None
    assert not civil.effect.raised
    assert civil.effect.toxic_in_context is None

    assert alone.scores == items[3][1]
    assert alone.effect is None

    # One call, and only for the replies that lean on their context.
    assert recording.calls == [[f"{INSULT}\nsame to you", f"{KIND}\nsame to you"]]


def test_context_off_reads_nothing(fast: Classifier) -> None:
    recording = Recording(fast)
    scores = fast.classify(["same to you"])[0]
    (out,) = ContextJudge(recording, max_items=0).judge([("same to you", scores, [INSULT])])
    assert out.scores == scores
    assert out.effect is None
    assert recording.calls == []


def test_arabic_echo(fast: Classifier) -> None:
    parent = "يا كلب يا حقير يا ابن الكلب يا وسخ"
    scores = fast.classify(["وانت كمان"], ["ar"])[0]
    (out,) = ContextJudge(fast).judge([("وانت كمان", scores, [parent])])
    assert out.effect is not None
    assert out.effect.raised
    assert out.scores.toxic > 0.5


def test_verdicts_record_the_context(fast: Classifier) -> None:
    from streams.pipeline import RawRecord, TextPipeline
    from streams.policy import PolicyBook
    from tests.support.events import as_json, post_event

    pipeline = TextPipeline(fast, PolicyBook(), cache_size=1000)
    echo = post_event("ctx-echo", "same to you")
    echo["payload"] |= {"parent_id": "p1", "context": [INSULT]}
    kind = post_event("ctx-kind", "same to you", external_id="ctx-kind")  # same text, no context
    records = [
        RawRecord("events.text", 0, n, b"demo:a", as_json(e)) for n, e in enumerate([echo, kind])
    ]
    verdicts = {v.event_id: v for v in pipeline.process(records).verdicts}
    raised, plain = verdicts["ctx-echo"], verdicts["ctx-kind"]
    assert raised.context is not None
    assert raised.context.raised
    assert raised.toxic > 0.5
    assert raised.decision.value != "approve"
    assert plain.context is None  # no context given
    assert plain.toxic < 0.5
    assert plain.decision.value != "reject"
