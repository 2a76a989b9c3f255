"""Arabic for the fast tier: spelling folded across dialects, emoji kept, Arabizi found and read."""

from __future__ import annotations

import pytest

from streams.text.arabic import LAUGH, fold_arabic
from streams.text.arabizi import is_arabizi, map_spans, to_arabic_script
from streams.text.emoji import emoji_words
from streams.text.features import FeatureSpec, Featurizer
from streams.text.language import detect_language
from streams.text.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("حلووووو يا كلبببب", "حلو يا كلب"),  # elongation, capped by normalize, then written once
        ("هههههههه والله", f"{LAUGH} والله"),  # laughter is one token
        ("خخخخخ يا حمار", f"{LAUGH} يا حمار"),
        ("هاهاهاها", LAUGH),
        ("سأل المسؤول عن ٣ أشياء", "سال المسول عن 3 اشيا"),  # hamza forms, Arabic-Indic digits
        ("مَدْرَسَة إِلى", "مدرسه الي"),  # diacritics, ta marbuta, alef and ya forms
        ("ممكن طيب", "ممكن طيب"),  # a real double letter inside a word stays
        ("no arabic here", "no arabic here"),
    ],
)
def test_fold_arabic(raw: str, folded: str) -> None:
    assert fold_arabic(normalize(raw)) == folded


def test_dialect_spellings_meet_in_the_features() -> None:
    featurizer = Featurizer(FeatureSpec(char_bits=12, word_bits=10))
    assert featurizer.prepare("يا كلبببب 😡") == featurizer.prepare("يَا كَلْب😡")
    # An artifact from before the "v2" preparation keeps reading text as it was trained.
    old = Featurizer(FeatureSpec(char_bits=12, word_bits=10, prepare="v1"))
    assert "emj" not in old.prepare("you 🐷")


def test_emoji_become_words() -> None:
    assert emoji_words("you 🐷🐷") == "you  emj1f437  emj1f437 "
    assert emoji_words("👍🏽") == emoji_words("👍") == " emj1f44d "  # skin tone dropped
    assert emoji_words("plain text") == "plain text"
    assert emoji_words("مرحبا") == "مرحبا"


@pytest.mark.parametrize(
    "text",
    [
        "ya 7mar ya kalb",
        "enta 3ayb 3alek",
        "ana b7ebak ya 7abibi",
        "wallah ma 3aref",
        "chnowa hedha ya wled el 9a7ba",
    ],
)
def test_arabizi_is_detected_and_routed_to_arabic(text: str) -> None:
    assert is_arabizi(text)
    assert detect_language(text) == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "lol ur so dumb",
        "see you at 7pm on the 3rd",
        "I got a 3ds for christmas and it is great",
        "you are a pathetic idiot and everyone hates you",
        "صباح الخير",
        "",
    ],
)
def test_english_and_arabic_script_are_not_arabizi(text: str) -> None:
    assert not is_arabizi(text)


def test_arabizi_transliterates_word_by_word() -> None:
    assert to_arabic_script("ya 7mar ya kalb") == "يا حمر يا كلب"
    assert to_arabic_script("enta 3ayb") == "انت عيب"
    assert to_arabic_script("kos omak") == "كس امك"
    text = "yalla ya 7mar!"
    read = to_arabic_script(text)
    assert len(read.split()) == len(text.split())
    start = read.index("حمر")
    # A span on the transliteration covers the same word of the original.
    assert map_spans(text, read, [(start, start + 3)]) == [(9, 14)]
    assert map_spans("a b", "a", [(0, 1)]) == []  # word counts differ: nothing to map
