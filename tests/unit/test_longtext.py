"""Long texts without a model: the windows cover every word with overlap, the sample is an even
share, and the rates follow the length and the settings."""

from __future__ import annotations

import itertools

import pytest

from infra.settings import LongTextSettings
from streams.text.longtext import LongTextOptions, sample, windows


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
