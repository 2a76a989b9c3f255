"""Labels beyond `toxic`: how they are derived from the data, the rule labels, the span tagger."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from streams.text.classifier import merge_spans
from streams.text.rules import (
    RULE_LABELS,
    evaluate_rules,
    load_cases,
    match_rules,
    rule_scores,
)
from streams.text.span_tagger import _ContextHasher, decode, tokenize, word_labels
from streams.training.dataset import Row
from streams.training.labels import LABELS, blanked_targets, has_profanity, targets
from streams.training.span_fit import fit_tagger


def _row(**kw: object) -> Row:
    base: dict[str, object] = {
        "id": "x-1",
        "text": "some text",
        "lang": "en",
        "toxic": 0,
        "hate": 0,
        "sub": None,
        "votes": None,
        "spans": None,
        "source": "davidson",
        "dataset": "en_davidson_train",
    }
    base.update(kw)
    return Row(**base)  # type: ignore[arg-type]


# -- derived labels ---------------------------------------------------------------------------


def test_insult_is_offensive_but_not_hate() -> None:
    offensive = targets(_row(toxic=1, hate=0, text="you are a clown"))
    hate = targets(_row(toxic=1, hate=1, text="go back to your country"))
    harmless = targets(_row(toxic=0, hate=0))
    assert offensive["insult"] == 1
    assert hate["insult"] is None  # hate rows do not say whether they insult
    assert harmless["insult"] == 0
    mpold_vulgar = targets(_row(lang="ar", source="mpold", toxic=1, hate=0, sub="V"))
    assert mpold_vulgar["insult"] is None
    assert mpold_vulgar["obscene"] == 1
    spans_post = targets(_row(source="toxic_spans", toxic=1, hate=None, spans=((0, 4),)))
    assert spans_post["insult"] is None
    assert spans_post["identity_hate"] is None


def test_severe_toxic_needs_unanimous_hate_votes() -> None:
    unanimous = _row(toxic=1, hate=1, votes=(("hate_speech", 3), ("neither", 0)))
    split_vote = _row(toxic=1, hate=1, votes=(("hate_speech", 2), ("offensive_language", 1)))
    assert targets(unanimous)["severe_toxic"] == 1
    assert targets(split_vote)["severe_toxic"] == 0
    assert targets(_row(source="hatexplain", toxic=1, hate=1))["severe_toxic"] is None
    assert "severe_toxic" not in LABELS["ar"]


def test_obscene_weak_supervision_from_lexicon_and_spans() -> None:
    assert targets(_row(toxic=1, text="shut the f*ck up"))["obscene"] == 1
    assert targets(_row(toxic=1, text="you are a clown"))["obscene"] == 0
    # judged harmless although a term is there: the row does not say
    assert targets(_row(toxic=0, text="this song is fucking great"))["obscene"] is None
    text = "what a shitty idea, you moron"
    profane = _row(source="toxic_spans", toxic=1, hate=None, text=text, spans=((7, 13),))
    other = _row(source="toxic_spans", toxic=1, hate=None, text=text, spans=((23, 28),))
    assert targets(profane)["obscene"] == 1
    assert targets(other)["obscene"] is None  # a term outside the gold spans
    blank = blanked_targets("what a        idea, you", "en", LABELS["en"])
    assert blank == {
        "toxic": 0,
        "identity_hate": None,
        "insult": 0,
        "obscene": 0,
        "severe_toxic": None,
    }


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("F*CK this", "en", True),
        ("what a load of bullshit", "en", True),
        ("my class assignment on cocktails", "en", False),
        ("Scunthorpe United won", "en", False),
        ("يا ابن الشرموطة", "ar", True),
        ("كسمك يا حمار", "ar", True),
        ("كسر الباب بسرعة", "ar", False),
        ("الزبدة في الثلاجة", "ar", False),
    ],
)
def test_profanity_lexicon(text: str, lang: str, expected: bool) -> None:
    assert has_profanity(text, lang) is expected


# -- rule labels ------------------------------------------------------------------------------


def test_rules_on_hand_written_cases() -> None:
    cases = load_cases()
    assert len(cases) >= 60
    assert {c["lang"] for c in cases} == {"en", "ar"}
    report = evaluate_rules(cases)
    for lang in ("en", "ar"):
        for label in RULE_LABELS:
            m = report[f"{lang}/{label}"]
            assert m["positives"] >= 10
            assert m["precision"] >= 0.9, (lang, label, m)
            assert m["recall"] >= 0.7, (lang, label, m)


def test_rule_hits_index_the_original_text() -> None:
    text = "ok.  I'M GOING TO KILL YOU!!"
    hits = match_rules(text, "en")
    assert [h.label for h in hits] == ["threat"]
    assert text[hits[0].start : hits[0].end].lower().endswith("kill you")
    arabic = "والله سَأَقْتُلُكَ يا خاين"  # with diacritics, which the patterns do not spell
    (hit,) = match_rules(arabic, "ar")
    assert hit.label == "threat"
    assert arabic[hit.start : hit.end] == "سَأَقْتُلُكَ"
    assert match_rules("kys", "und")[0].label == "harassment"
    assert [h.label for h in match_rules("I\u2019ll stab you", "en")] == ["threat"]
    assert rule_scores(match_rules("have a nice day", "en")) == dict.fromkeys(RULE_LABELS, 0.0)


def test_negated_rules_do_not_fire() -> None:
    assert match_rules("please don't kill yourself over this deadline", "en") == []
    assert match_rules("i would never hurt you", "en") == []
    assert match_rules("لا تنتحري يا حبيبتي", "ar") == []


# -- span tagger ------------------------------------------------------------------------------


def test_tokenize_and_word_labels() -> None:
    text = "  You IDIOT!!! go away"
    ranges, words = tokenize(text)
    assert [text[s:e] for s, e in ranges] == ["You", "IDIOT", "go", "away"]
    assert words == ["you", "idiot", "go", "away"]
    assert word_labels(ranges, [(6, 11)]) == [0, 1, 0, 0]
    assert word_labels(ranges, [(6, 8)]) == [0, 0, 0, 0]  # less than half of the word


def _words_token_by_token(text: str) -> list[tuple[int, int]]:
    """The plain definition: each whitespace-delimited token, leading and trailing characters
    other than letters, digits, `_` and `*` stripped; tokens with nothing left are skipped."""
    out = []
    for m in re.finditer(r"\S+", text):
        kept = [i for i, ch in enumerate(m.group()) if ch.isalnum() or ch in "_*"]
        if kept:
            out.append((m.start() + kept[0], m.start() + kept[-1] + 1))
    return out


def test_word_ranges_match_their_definition() -> None:
    rng = random.Random(3)  # seeded fuzz: the same texts on every run
    for _ in range(500):
        text = "".join(rng.choices("ab*!.,'-_é😀ع١ \t\n\u00a0", k=rng.randint(0, 40)))
        ranges, words = tokenize(text)
        assert ranges == _words_token_by_token(text)
        assert words == [re.sub(r"(.)\1{2,}", r"\1\1", text[a:b].lower()) for a, b in ranges]


def test_context_features_equal_hashing_their_strings() -> None:
    """The tagger's cached context columns are scikit-learn's hashing of the feature strings."""
    texts = [["you", "stupid", "idiot"], ["x"], ["يا", "كلب", "😀", "you", "you"], ["a", "b"] * 30]
    strings = []
    for words in texts:
        seq = ["<s>", "<s>", *words, "</s>"]
        for j in range(2, len(seq) - 1):
            w, left, right, left2 = seq[j], seq[j - 1], seq[j + 1], seq[j - 2]
            strings.append(f"W:{w} L:{left} R:{right} LW:{left}_{w} WR:{w}_{right} L2:{left2}")
    reference = HashingVectorizer(
        analyzer="word", token_pattern=r"\S+", n_features=2**18, alternate_sign=False,
        norm=None, lowercase=False, dtype=np.float32,
    ).transform(strings)  # fmt: skip
    hasher = _ContextHasher(2**18, cache=4)  # a tiny cache: dropped and refilled on the way
    for _ in range(2):
        np.testing.assert_array_equal(hasher.transform(texts).toarray(), reference.toarray())


def test_decode() -> None:
    text = "you stupid idiot go away"
    ranges, _ = tokenize(text)
    p = np.array([0.1, 0.8, 0.9, 0.05, 0.2])
    assert decode(text, ranges, p, 0.5, 0.1, 0.0) == [(4, 16)]  # adjacent words merge
    # nothing above the threshold: the top word still counts when it clears the floor
    low = np.array([0.1, 0.2, 0.25, 0.05, 0.1])
    assert decode(text, ranges, low, 0.5, 0.15, 0.0) == [(11, 16)]
    assert decode(text, ranges, low, 0.5, 0.3, 0.0) == []
    assert decode("", [], np.zeros(0), 0.5, 0.1, 0.0) == []


def test_fit_tagger_learns_marked_words() -> None:
    insults = ["idiot", "moron", "clown", "loser"]
    fillers = ["the", "plan", "is", "great", "and", "we", "agree", "today", "on", "it"]
    posts = []
    for i in range(120):
        words = [fillers[(i + k) % len(fillers)] for k in range(6)]
        bad = insults[i % len(insults)]
        words.insert(i % 5, bad)
        text = " ".join(words)
        start = text.index(bad)
        posts.append((f"p{i}", text, [(start, start + len(bad))]))
    tagger, tuned = fit_tagger(posts)
    assert tuned > 0.8
    text = "we agree the clown is great"
    assert [text[s:e] for s, e in tagger.spans([text])[0]] == ["clown"]


def test_merge_spans() -> None:
    assert merge_spans([(5, 9), (0, 3), (2, 4), (9, 12)]) == [(0, 4), (5, 12)]
    assert merge_spans([]) == []
