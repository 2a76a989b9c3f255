"""Arabic folded for the fast tier's features, so that dialect spellings of a word meet.

`streams.text.normalize.normalize` already unifies alef, ya and ta-marbuta forms, drops diacritics
and tatweel and caps repeats at two (it also feeds the content hash and the transformer tier, so
it stays as it is). `fold_arabic` goes further on its output for the linear tier only: the hamza
left on its own (ء, and ؤ / ئ, which `normalize` maps to it) is dropped, since writers add or omit
it freely (مسؤول / مسوول); Arabic-Indic digits become ASCII; what `normalize` left of an elongation
(a long vowel written twice, or a letter doubled at the end of a word: حلووو → حلوو → حلو) is
written once (Arabic writes a real double letter once, with a shadda); laughter (هههه, خخخ,
هاهاها) becomes one token (`LAUGH`).
"""

from __future__ import annotations

import re

__all__ = ["LAUGH", "fold_arabic"]

LAUGH = "ضحك"  # "laughter": the token laughter becomes

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_LETTER = "\u0621-\u064a"
# A word of laughter: ه or خ repeated (capped at two by `normalize`), or ها repeated.
_LAUGH_RE = re.compile(f"(?<![{_LETTER}])(?:ه[هخ]+|خخ+|(?:ها){{2,}})(?![{_LETTER}])")
_LONG_VOWEL_RE = re.compile("([اوي])\\1+")
_WORD_END_DOUBLE_RE = re.compile(f"([{_LETTER}])\\1+(?![{_LETTER}])")
_HAMZA_RE = re.compile("\u0621")
_ARABIC_RE = re.compile("[\u0600-\u06ff]")
_SPACE_RE = re.compile(r"\s+")


def fold_arabic(text: str) -> str:
    """`text` (already `normalize`d) with Arabic spelling variation folded; other text as is."""
    if not _ARABIC_RE.search(text):
        return text
    text = text.translate(_DIGITS)
    text = _LAUGH_RE.sub(f" {LAUGH} ", text)
    text = _LONG_VOWEL_RE.sub(r"\1", text)
    text = _WORD_END_DOUBLE_RE.sub(r"\1", text)
    text = _HAMZA_RE.sub("", text)
    return _SPACE_RE.sub(" ", text).strip()
