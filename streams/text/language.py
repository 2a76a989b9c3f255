"""A fast script-based language guess: "en", "ar" or "und"."""

from __future__ import annotations

import re

__all__ = ["SUPPORTED", "detect_language"]

SUPPORTED: tuple[str, ...] = ("en", "ar")

_LETTER_RE = re.compile(r"[^\W\d_]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_ARABIC_RE = re.compile(
    "[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06fc\u0750-\u077f\u08a0-\u08ff"
    "\ufb50-\ufdff\ufe70-\ufefc]"
)
_SCAN = 2000  # characters looked at


def detect_language(text: str) -> str:
    """Guess the language of `text` from the script of its letters.

    "ar" when at least 30% of the letters are Arabic script, "en" when at least 60% are Latin
    letters, otherwise "und" (no letters, or mostly another script).
    """
    head = text[:_SCAN]
    if head.isascii():
        return "en" if _LATIN_RE.search(head) else "und"
    letters = len(_LETTER_RE.findall(head))
    if letters == 0:
        return "und"
    if len(_ARABIC_RE.findall(head)) >= 0.3 * letters:
        return "ar"
    if len(_LATIN_RE.findall(head)) >= 0.6 * letters:
        return "en"
    return "und"
