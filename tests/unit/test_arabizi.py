"""Arabizi (Arabic in Latin letters and digits): recognised, written in Arabic script for the
Arabic model, and spans mapped back to what the author wrote."""

from __future__ import annotations

import random

import pytest

from streams.bench.arabizi import render
from streams.text.arabizi import is_arabizi, latin_view, to_arabic
from streams.text.language import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "enta 7mar",
        "ya ibn el kalb",
        "wallah enta ghabi",
        "sabah el kheir ya habibi",
        "3ala fekra el film kan 7elw",
        "ana ra7 3al beit",
        "ya 7ayawan",
        "Ya kalb!",  # punctuation on a listed word
    ],
)
def test_arabizi_is_recognised_and_detected_as_arabic(text: str) -> None:
    assert is_arabizi(text)
    assert detect_language(text) == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "see ya later",  # "ya" alone is English too
        "gr8 to see u 2day",  # text-speak
        "These hoes be trying 2much doing 2much",
        "Typical r3tard behaviour.",  # leetspeak: one digit-letter word is not enough
        "26 5feet 8 inches dark blonde",
        "new ps5 and mp3 player",
        "I love my habibi",  # one Arabizi word inside English
        "@user3 #ma3 http://t.co/7aB3cD9e &#128514; hi there",  # links, tags, entities: no words
        "kalb",  # one word: too little evidence
    ],
)
def test_english_is_not_taken_for_arabizi(text: str) -> None:
    assert not is_arabizi(text)


@pytest.mark.parametrize(
    ("latin", "arabic"),
    [
        ("enta 7mar", "انت حمار"),
        ("ya ibn el kalb!", "يا ابن الكلب!"),  # the article joins its noun
        ("kol 5ara", "كول خرا"),
        ("3omar w sa3ad", "عومر و سعد"),  # digit-letters; short vowels dropped, o/u written
    ],
)
def test_transliteration(latin: str, arabic: str) -> None:
    assert to_arabic(latin).text == arabic


def test_spans_in_the_transliteration_point_at_the_original_words() -> None:
    text = "ya ibn el kalb, enta 7mar"
    view = to_arabic(text)
    found = [(view.text.index(w), view.text.index(w) + len(w)) for w in ("الكلب", "حمار")]
    assert [text[a:b] for a, b in view.original_spans(found)] == ["el kalb", "7mar"]
    assert view.original_spans([(0, len(view.text))]) == [(0, len(text))]


def test_only_latin_text_gets_a_view() -> None:
    assert latin_view("يا كلب") is None
    assert latin_view("12345 !!!") is None
    view = latin_view("ya kalb")
    assert view is not None
    assert view.text == "يا كلب"


def test_rendered_arabic_rows_read_as_arabizi() -> None:
    rng = random.Random(3)
    rendered = render("انت حمار يا كلب", rng)
    assert rendered.isascii()
    assert any(c.isdigit() for c in rendered)
    assert is_arabizi(rendered)
