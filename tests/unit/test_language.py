from __future__ import annotations

import pytest

from streams.text.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("you are a pathetic idiot and everyone hates you", "en"),
        ("lol ur so dumb", "en"),  # short slang: statistical detectors call this Indonesian
        ("shut up bitch nobody asked you", "en"),
        ("thanks!!", "en"),
        ("صباح الخير يا أصدقاء", "ar"),
        ("فى حاجات مينفعش نلفت نظركوا ليها", "ar"),  # Egyptian dialect
        ("Bonjour à tous, belle journée à Paris avec mes amis", "und"),
        ("Das ist ein ganz normaler deutscher Satz über das Wetter", "und"),
        ("Hola amigos, ¿cómo están todos ustedes hoy?", "und"),
        ("این یک متن فارسی است که چند کلمه دارد و پایان می‌گیرد", "und"),  # Persian
        ("Привет, как дела?", "und"),
        ("", "und"),
        ("12345 !!!", "und"),
    ],
)
def test_detects_english_arabic_or_other(text: str, lang: str) -> None:
    assert detect_language(text) == lang
