"""Long texts: windows, sampling, and a toxic passage caught wherever it sits in 3,000 words,
by the fast tier alone and by the cascade (with a stand-in transformer that counts its work)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.settings import LongTextSettings
from streams.text.cascade import CascadeClassifier
from streams.text.classifier import Classifier, TextScores
from streams.text.linear import LinearTextClassifier
from streams.text.load import TierOptions, load_classifier
from streams.text.longtext import LongTextClassifier, LongTextOptions, sample, windows
from tests.test_text_classifier import ClassifierConformance

FILLER = [
    "The council met on Tuesday to discuss the new library opening hours.",
    "Our team trained hard all week and the weather was lovely for the match.",
    "I bought fresh bread and some apples at the market this morning.",
    "The train was a little late but the station staff were helpful.",
    "We watched a documentary about whales and their long migrations.",
    "My neighbour grows tomatoes and shares them with everyone on the street.",
    "The museum has a new exhibition about the history of printing.",
    "Please remember to bring your own water bottle to the workshop.",
]
PASSAGE = "You are a pathetic idiot and a worthless moron, shut up."


def long_text(words: int, insert: str | None = None, where: float = 0.5, seed: int = 1) -> str:
    rng = random.Random(seed)
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        sentences.append(rng.choice(FILLER))
    if insert:
        sentences.insert(round(where * len(sentences)), insert)
    return " ".join(sentences)


@pytest.fixture(scope="module")
def fast(model_dir: Path) -> LinearTextClassifier:
    return LinearTextClassifier.load(model_dir)


class Counting(Classifier):
    """A transformer stand-in that records what it was asked: toxic probability `p`, or 0.99
    for a text with "idiot" in it when `p` is None."""

    def __init__(self, p: float | None) -> None:
        self.p = p
        self.seen: list[str] = []

    @property
    def version(self) -> str:
        return "counting"

    @property
    def labels(self) -> tuple[str, ...]:
        return ("toxic",)

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        self.seen.extend(texts)
        ps = [self.p if self.p is not None else 0.99 if "idiot" in t else 0.01 for t in texts]
        return [TextScores(p, {"toxic": p}, "en", []) for p in ps]


def test_windows_cover_every_word_with_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(130))
    ranges = windows(text, 60, 15)
    words = [text[a:b].split() for a, b in ranges]
    assert [len(w) for w in words] == [60, 60, 40]
    assert words[0][-15:] == words[1][:15]  # neighbours share 15 words
    assert words[-1][-1] == "w129"
    assert windows("", 60, 15) == []
    assert windows("  just three words ", 60, 15) == [(2, 18)]


def test_sample_is_a_deterministic_even_share() -> None:
    chosen = sample(67, 0.4, "some text")
    assert len(chosen) == 27
    assert chosen == sample(67, 0.4, "some text")
    assert chosen != sample(67, 0.4, "another text")
    ordered = sorted(chosen)
    assert max(b - a for a, b in itertools.pairwise(ordered)) <= 3  # spread out
    assert sample(10, 0.0, "x") == set()
    assert sample(10, 1.0, "x") == set(range(10))


def test_rates_by_length_and_from_settings() -> None:
    default = LongTextOptions()
    assert [default.rate(n) for n in (100, 500, 501, 1000, 3000, 3001, 50_000)] == [
        0.8, 0.8, 0.6, 0.6, 0.4, 0.2, 0.2,
    ]  # fmt: skip
    custom = LongTextOptions.from_settings(
        LongTextSettings(rates={2000: 0.5}, rate_beyond=0.1, window_words=40, whole_words=80)
    )
    assert (custom.rate(1999), custom.rate(2001), custom.window_words) == (0.5, 0.1, 40)
    assert custom.whole_words == 80
    with pytest.raises(ValueError, match="overlap"):
        LongTextOptions(window_words=10, overlap_words=10)


@pytest.mark.parametrize("where", [0.0, 0.5, 1.0], ids=["start", "middle", "end"])
def test_fast_tier_catches_a_passage_anywhere(fast: LinearTextClassifier, where: float) -> None:
    judge = LongTextClassifier(fast)
    benign = long_text(3000)
    toxic = long_text(3000, PASSAGE, where)
    assert len(toxic.split()) > 3000
    out = judge.classify([benign, toxic])
    assert out[0].toxic < 0.5
    assert out[1].toxic > 0.5
    start = toxic.index(PASSAGE)
    assert out[1].spans
    for a, b in out[1].spans:  # offsets in the full text, inside the passage
        assert start <= a < b <= start + len(PASSAGE)


def test_a_text_the_model_reads_whole_is_explained_whole(fast: LinearTextClassifier) -> None:
    text = long_text(120, PASSAGE, 0.5)  # several windows, well under 10,000 characters
    assert len(text) < 10_000
    out = LongTextClassifier(fast).classify([text], ["en"])[0]
    assert out.toxic > 0.5
    assert out.spans == fast.explain([text], ["en"])[0]
    start = text.index(PASSAGE)
    assert any(start <= a < b <= start + len(PASSAGE) for a, b in out.spans)


@pytest.mark.parametrize("where", [0.0, 0.5, 1.0], ids=["start", "middle", "end"])
def test_cascade_samples_the_expensive_tier(fast: LinearTextClassifier, where: float) -> None:
    transformer = Counting(None)
    cascade = CascadeClassifier(fast, {"en": transformer}, band=(0.0, 1.0), blend=0.5)  # type: ignore[dict-item]
    text = long_text(3000, PASSAGE, where)
    defaults = LongTextOptions()
    n = len(windows(text, defaults.window_words, defaults.overlap_words))
    out = cascade.classify([text], ["en"])[0]
    flagged = [w for w in transformer.seen if "idiot" in w or "moron" in w]
    assert flagged  # every window the fast tier flags reaches the expensive tier
    # The share for its length (20% beyond 3,000 words) plus the flagged ones, and no more.
    rate = defaults.rate(len(text.split()))
    assert rate == 0.2
    sampled = math.ceil(rate * n)
    assert sampled <= cascade.last_escalated <= sampled + len(flagged)
    assert cascade.last_escalated == len(transformer.seen) < n
    assert out.toxic > 0.5
    start = text.index(PASSAGE)
    assert out.spans
    assert all(start <= a < b <= start + len(PASSAGE) for a, b in out.spans)


def test_a_short_text_is_judged_whole(fast: LinearTextClassifier) -> None:
    transformer = Counting(0.99)
    cascade = CascadeClassifier(fast, {"en": transformer}, band=(0.0, 1.0), blend=1.0)  # type: ignore[dict-item]
    short = "have a lovely day " * 12  # 48 words: more than one window, fewer than whole_words
    assert cascade.classify([short], ["en"])[0].toxic == pytest.approx(0.99)
    assert transformer.seen == [short]
    longer = short + "and a lovely evening " * 4  # 64 words: windows
    cascade.classify([longer], ["en"])
    assert len(transformer.seen) > 2
    assert all(len(seen.split()) <= LongTextOptions().window_words for seen in transformer.seen[1:])


def test_load_classifier_passes_the_options(model_dir: Path) -> None:
    options = TierOptions(use_default=False, long_text=LongTextOptions(window_words=45))
    clf = load_classifier(model_dir, options)
    assert isinstance(clf, LongTextClassifier)
    assert clf.options.window_words == 45


class TestLongTextClassifier(ClassifierConformance):
    @pytest.fixture
    def classifier(self, fast: LinearTextClassifier) -> Classifier:
        return LongTextClassifier(
            fast, LongTextOptions(window_words=12, overlap_words=3, whole_words=0)
        )
