"""Rewrite suggestions: the offline lexicon rewriter with the real model, and the chat rewriter
against a local fake OpenAI-compatible server (answers, errors, timeouts, fallbacks, the key)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from infra.errors import ConfigError
from infra.settings import Settings
from streams.policy import DecisionPolicy
from streams.text.classifier import Classifier
from streams.text.linear import LinearTextClassifier
from streams.text.rewrite import (
    ChatEndpoint,
    ChatRewriter,
    OfflineRewriter,
    RewriteRequest,
    apply_edits,
    lexicon,
    lexicon_edits,
    rewriter_from_settings,
)
from streams.training.dataset import iter_rows
from tests.conftest import DATA
from tests.fake_llm import Behaviour, FakeChat, fake_chat

REAL_POSTS = ("en_davidson_train.jsonl", "en_hatexplain_val.jsonl", "ar_mpold_train.jsonl")

KEY = "sk-test-" + "k" * 32
POLICY = DecisionPolicy()  # approve at or below 0.2


@pytest.fixture(scope="module")
def classifier(model_dir: Path) -> Classifier:
    return LinearTextClassifier.load(model_dir)


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with fake_chat() as server:
        yield server


def requests_for(classifier: Classifier, texts: list[str]) -> list[RewriteRequest]:
    return [
        RewriteRequest(t, s, POLICY) for t, s in zip(texts, classifier.classify(texts), strict=True)
    ]


def approved(classifier: Classifier, text: str) -> bool:
    s = classifier.classify([text])[0]
    return POLICY.decide(s.toxic, s.labels, s.lang).value == "approve"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you are an idiot", "you are wrong"),
        ("You're such a moron lol", "You're wrong lol"),
        ("What a fucking moron.", "What a person."),
        ("what an idiot", "what a person"),  # the article agrees with the new word
        ("These idiots ruined the game", "These people ruined the game"),
        ("Shut up, you idiot", "Please stop"),
        ("Well,  you idiot, that's\twrong!", "Well, that's\twrong!"),  # the rest kept verbatim
        ("You idiot. Read the article", "Read the article"),
        ("this is bullshit", "this is not true"),
        ("YOU ARE AN IDIOT", "YOU ARE WRONG"),
        ("I am so damn tired", "I am so tired"),
        ("go to hell", "go away"),
        ("انت غبي", "رأيك خاطئ"),
        ("اسكت يا حمار", "من فضلك توقف"),
        ("Scunthorpe United played a classic match", "Scunthorpe United played a classic match"),
        ("a foolish plan", "a foolish plan"),
    ],
)
def test_lexicon_rewrites(text: str, expected: str) -> None:
    assert apply_edits(text, lexicon_edits(text)) == expected


def test_spans_limit_the_edits() -> None:
    text = "shut up you stupid idiot"
    only_insult = lexicon_edits(text, within=[(text.index("stupid"), len(text))])
    assert apply_edits(text, only_insult) == "shut up"
    assert apply_edits(text, lexicon_edits(text)) == "please stop"
    assert lexicon_edits(text, within=[(0, 0)]) == []


def test_skipping_rules_changes_no_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules are skipped on texts without their words; on real posts in both languages, the
    edits are exactly those of running every rule."""
    texts = [row.text for name in REAL_POSTS for row in iter_rows(DATA / "text" / name, limit=1500)]
    gated = [lexicon_edits(t) for t in texts]
    assert sum(map(bool, gated)) > 300  # the sample does exercise the lexicon
    monkeypatch.setattr(lexicon, "_present", lambda _text: defaultdict(lambda: True))
    assert gated == [lexicon_edits(t) for t in texts]


def test_offline_suggestions_are_judged_acceptable(classifier: Classifier) -> None:
    texts = [
        "you are an idiot",
        "shut up you stupid idiot",
        "These idiots ruined the game",
        "This is the dumbest idea ever",
        "يا كلب انت حقير",
        "He is a piece of shit",
        "stfu loser",
    ]
    out = OfflineRewriter(classifier).rewrite(requests_for(classifier, texts))
    assert len(out) == len(texts)
    suggested = [r for r in out if r.text is not None]
    assert len(suggested) >= 5, out
    for r in suggested:
        assert r.source == "offline"
        assert r.toxic is not None
        assert approved(classifier, r.text or "")  # re-scored: never a toxic suggestion
    assert out[0].text == "you are wrong"
    assert out[4].text == "رأيك خاطئ"


def test_offline_says_what_it_cannot_do(classifier: Classifier) -> None:
    texts = ["you idiot", "All of them are criminals and should be thrown out"]
    none_left, no_lexicon = OfflineRewriter(classifier).rewrite(requests_for(classifier, texts))
    assert none_left.text is None
    assert none_left.note == "nothing would be left after removing the toxic words"
    assert no_lexicon.text is None
    assert "cannot rephrase" in (no_lexicon.note or "")


def test_the_policy_decides_what_is_acceptable(classifier: Classifier) -> None:
    strict = DecisionPolicy(low=0.0, high=0.0)  # approves nothing
    text = "you are an idiot"
    request = RewriteRequest(text, classifier.classify([text])[0], strict)
    (answer,) = OfflineRewriter(classifier).rewrite([request])
    assert answer.text is None
    assert "still judged toxic" in (answer.note or "")


def test_offline_batch_of_nothing(classifier: Classifier) -> None:
    assert OfflineRewriter(classifier).rewrite([]) == []


def _rewriter(classifier: Classifier, chat: FakeChat, timeout: float = 2.0) -> ChatRewriter:
    return ChatRewriter(
        classifier, ChatEndpoint(chat.url, SecretStr(KEY), "tiny-model", timeout=timeout)
    )


def test_chat_rewrite_sends_text_spans_and_bearer(classifier: Classifier, chat: FakeChat) -> None:
    chat.behaviour = Behaviour(reply=lambda body: "I think you are wrong about this.")
    rewriter = _rewriter(classifier, chat)
    try:
        (answer,) = rewriter.rewrite(requests_for(classifier, ["you are an idiot"]))
    finally:
        rewriter.close()
    assert answer.source == "llm"
    assert answer.text == "I think you are wrong about this."
    assert answer.note is None
    (seen,) = chat.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "tiny-model"
    prompt = seen.body["messages"][-1]["content"]
    assert "you are an idiot" in prompt
    assert '"idiot"' in prompt  # the span


def test_chat_answer_that_is_still_toxic_falls_back(classifier: Classifier, chat: FakeChat) -> None:
    chat.behaviour = Behaviour(reply=lambda body: "you stupid idiot moron")
    rewriter = _rewriter(classifier, chat)
    try:
        (answer,) = rewriter.rewrite(requests_for(classifier, ["you are an idiot"]))
    finally:
        rewriter.close()
    assert answer.source == "offline"
    assert answer.text == "you are wrong"
    assert "still judged toxic" in (answer.note or "")


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (Behaviour(status=500), "answered HTTP 500"),
        (Behaviour(status=401), "answered HTTP 401"),
        (Behaviour(delay=1.5), "timed out after 0.5s"),
        (Behaviour(raw=b"<html>not json</html>"), "not a chat completion"),
        (Behaviour(raw=b'{"choices": []}'), "not a chat completion"),
        (Behaviour(reply=lambda body: "   "), "empty text"),
        (Behaviour(reply=lambda body: "x" * 5_000), "far longer"),
    ],
)
def test_chat_failures_fall_back_with_the_reason(
    classifier: Classifier,
    chat: FakeChat,
    behaviour: Behaviour,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat.behaviour = behaviour
    rewriter = _rewriter(classifier, chat, timeout=0.5)
    caplog.set_level(logging.DEBUG)
    try:
        answers = rewriter.rewrite(requests_for(classifier, ["you are an idiot", "you idiot"]))
    finally:
        rewriter.close()
    assert [a.source for a in answers] == ["offline", "offline"]
    assert answers[0].text == "you are wrong"
    assert reason in (answers[0].note or "")
    assert answers[1].text is None
    assert reason in (answers[1].note or "")
    assert "nothing would be left" in (answers[1].note or "")
    assert reason in caplog.text
    assert KEY not in caplog.text  # the key is never logged, whatever happens


def test_unreachable_endpoint_falls_back(classifier: Classifier) -> None:
    with fake_chat() as gone:
        url = gone.url
    rewriter = ChatRewriter(classifier, ChatEndpoint(url, SecretStr(KEY), timeout=1.0))
    try:
        (answer,) = rewriter.rewrite(requests_for(classifier, ["you are an idiot"]))
    finally:
        rewriter.close()
    assert answer.source == "offline"
    assert "unreachable (ConnectError)" in (answer.note or "")


def test_settings_choose_the_rewriter(classifier: Classifier, chat: FakeChat) -> None:
    assert isinstance(rewriter_from_settings(classifier, Settings()), OfflineRewriter)
    configured = Settings(rewrite_llm_url=chat.url + "/", rewrite_llm_key=KEY)  # type: ignore[arg-type]
    rewriter = rewriter_from_settings(classifier, configured)
    assert isinstance(rewriter, ChatRewriter)
    assert rewriter.endpoint.url == chat.url
    assert KEY not in repr(rewriter.endpoint)
    rewriter.close()
    assert isinstance(rewriter_from_settings(classifier, configured, chat=False), OfflineRewriter)
    with pytest.raises(ConfigError, match="http"):
        ChatRewriter(classifier, ChatEndpoint("ftp://example.com"))


def test_toxic_verdicts_carry_a_suggestion(classifier: Classifier) -> None:
    from streams.pipeline import RawRecord, TextPipeline
    from streams.policy import PolicyBook
    from tests.conftest import as_json, post_event

    pipeline = TextPipeline(classifier, PolicyBook(), cache_size=1000)
    texts = {"rw-toxic": "you are an idiot", "rw-fine": "Thanks for the recipe, it was delicious",
             "rw-hopeless": "you idiot"}  # fmt: skip
    records = [
        RawRecord("events.text", 0, n, b"demo:a", as_json(post_event(event_id, text)))
        for n, (event_id, text) in enumerate(texts.items())
    ]
    verdicts = {v.event_id: v for v in pipeline.process(records).verdicts}
    toxic, fine, hopeless = (verdicts[k] for k in texts)
    assert toxic.decision.value != "approve"
    assert toxic.rewrite is not None
    assert toxic.rewrite.text == "you are wrong"
    assert toxic.rewrite.source == "offline"
    assert fine.decision.value == "approve"
    assert fine.rewrite is None  # only the toxic share is rewritten
    assert hopeless.rewrite is not None
    assert hopeless.rewrite.text is None
    assert hopeless.rewrite.note


def test_classify_jsonl_writes_the_suggestion(classifier: Classifier) -> None:
    import io
    import json

    from streams.text.batch import classify_jsonl

    src = io.StringIO('{"id": 1, "text": "you are an idiot"}\n{"id": 2, "text": "nice photo"}\n')
    dst = io.StringIO()
    classify_jsonl(
        classifier, POLICY, src, dst, progress=False, rewriter=OfflineRewriter(classifier)
    )
    rows = [json.loads(line) for line in dst.getvalue().splitlines()]
    assert rows[0]["rewrite"]["text"] == "you are wrong"
    assert rows[0]["rewrite"]["source"] == "offline"
    assert "rewrite" not in rows[1]
