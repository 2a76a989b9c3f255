"""Language identification: "en", "ar" or "und" (a language the models do not cover).

The script decides most texts at almost no cost: Arabic letters → "ar" (unless letters only
Persian or Urdu use are frequent), another non-Latin script → "und". Latin-script texts are
English unless they look otherwise: Arabizi (Arabic in Latin letters and digits,
`streams.text.arabizi`) is "ar"; when a text of several words has almost no English function
words, the bundled Lingua detector (statistical, offline) is asked, and a confident other language
makes it "und". Short social-media English ("lol ur so dumb") fools statistical detectors, which is
why they are consulted only in that case.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from streams.text.arabizi import is_arabizi

__all__ = ["SUPPORTED", "detect_language"]

SUPPORTED: tuple[str, ...] = ("en", "ar")

_LETTER_RE = re.compile(r"[^\W\d_]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_ARABIC_RE = re.compile(
    "[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06fc\u0750-\u077f\u08a0-\u08ff"
    "\ufb50-\ufdff\ufe70-\ufefc]"
)
# Letters of Persian and Urdu that Arabic does not use (ک and ی are left out: Arabic keyboards
# produce them too).
_PERSIAN_RE = re.compile("[\u067e\u0686\u0698\u06af\u0679\u0688\u0691\u06ba\u06be\u06c1\u06d2]")
_WORD_RE = re.compile(r"[^\W\d_]+")
_SCAN = 2000  # characters looked at
_MIN_WORDS = 5  # fewer words: too little evidence to call a Latin-script text non-English
_MIN_CONFIDENCE = 0.75
_ENGLISH_FUNCTION_WORDS = frozenset(
    """a about after all also am an and any are as at be because been but by can could did do
    does dont for from get got had has have he her him his how i if im in into is it its just
    like me my no not now of off on one only or our out so some than that the their them then
    there they this to too u up ur us was we were what when where which who why will with would
    you your yours lol omg""".split()
)
# Languages Lingua weighs Latin-script text against (more languages: slower, no better here).
_CANDIDATES = (
    "ENGLISH FRENCH SPANISH PORTUGUESE GERMAN ITALIAN DUTCH TURKISH INDONESIAN MALAY TAGALOG "
    "SWAHILI POLISH ROMANIAN SWEDISH"
).split()


def detect_language(text: str) -> str:
    head = text[:_SCAN]
    if head.isascii():
        if not _LATIN_RE.search(head):
            return "und"
    else:
        letters = len(_LETTER_RE.findall(head))
        if letters == 0:
            return "und"
        arabic = len(_ARABIC_RE.findall(head))
        if arabic >= 0.3 * letters:
            return "und" if len(_PERSIAN_RE.findall(head)) >= max(2, 0.02 * arabic) else "ar"
        if len(_LATIN_RE.findall(head)) < 0.6 * letters:
            return "und"
    if is_arabizi(head):
        return "ar"
    return "en" if _looks_english(head) else "und"


def _looks_english(text: str) -> bool:
    words = _WORD_RE.findall(text.lower())
    if len(words) < _MIN_WORDS:
        return True
    if sum(w in _ENGLISH_FUNCTION_WORDS for w in words) >= 0.1 * len(words):
        return True
    detector = _detector()
    best = detector.compute_language_confidence_values(text)[0]
    return bool(best.language.name == "ENGLISH" or best.value < _MIN_CONFIDENCE)


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _CANDIDATES]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
