"""Emoji as words for the fast tier: 🖕, 🤮 or 🐷 carry intent that stripping symbols lost.

Each emoji becomes a token `emj` + its code point in hex, spaced from its neighbours, so both the
word and the character n-grams see it; skin-tone modifiers, variation selectors and the
zero-width joiner are dropped (👍🏽 and 👍 are one token). Runs of one emoji are capped by
`normalize` already.
"""

from __future__ import annotations

import re

__all__ = ["emoji_words"]

_EMOJI_RE = re.compile(
    "[\U0001f300-\U0001f3fa\U0001f400-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2190-\u21ff"
    "\u2300-\u23ff\u3030\u303d\u3297\u3299]"
)
_DROP_RE = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u200d\u20e3]")


def _word(match: re.Match[str]) -> str:
    return f" emj{ord(match.group()):x} "


def emoji_words(text: str) -> str:
    """`text` with every emoji written as a word of its own."""
    if text.isascii():
        return text
    return _EMOJI_RE.sub(_word, _DROP_RE.sub("", text))
