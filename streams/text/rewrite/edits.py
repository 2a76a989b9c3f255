"""Applying edits to a text so that what is left reads well: deletions take their space along,
dangling punctuation goes, and an article agrees with the word after it."""

from __future__ import annotations

import re
from collections.abc import Sequence

_GAP = "\x00"  # marks where something was deleted, so the clean-up touches only those places
_CLEANUPS = (
    (re.compile(rf"^[\s{_GAP}]*{_GAP}[\s,;:.!?\-–—{_GAP}]*"), ""),
    (re.compile(rf"([,;:،])[ \t]*{_GAP}+[ \t]*[,;:،]"), r"\1"),
    (re.compile(rf"[ \t]*{_GAP}+[ \t]*(?=[,.!?;:)\]؟،])"), ""),
    (re.compile(rf"[ \t]+{_GAP}+[ \t]+"), " "),
    (re.compile(rf"[ \t]*[,;:،]?[ \t]*{_GAP}+[ \t]*$"), ""),
    (re.compile(_GAP), ""),
)
_ARTICLE_RE = re.compile(r"\b(an?)(\s+)$", re.IGNORECASE)


def apply_edits(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    """`text` with `edits` applied; deletions also take the space they leave behind, and an
    article before a replaced word agrees with it ("an idiot" → "a person")."""
    out: list[str] = []
    cursor = 0
    for start, end, replacement in edits:
        before = "".join(out) + text[cursor:start]
        if replacement:
            article = _ARTICLE_RE.search(before)
            if article and replacement[:1].isalpha():
                want = "an" if replacement[0].lower() in "aeiou" else "a"
                if article.group(1).lower() != want:
                    if article.group(1)[0].isupper():
                        want = want.capitalize()
                    before = before[: article.start()] + want + article.group(2)
        out = [before, replacement or _GAP]
        cursor = end
    out.append(text[cursor:])
    result = "".join(out)
    for pattern, sub in _CLEANUPS:
        result = pattern.sub(sub, result)
    if text[:1].isupper() and result[:1].islower():  # the first word was edited away
        result = result[0].upper() + result[1:]
    return result


def delete_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    return apply_edits(text, [(a, b, "") for a, b in spans])


def keeps_enough(original: str, pruned: str) -> bool:
    """A deletion-only rewrite must leave a message: 3+ words and half the original's."""
    kept = len(pruned.split())
    return kept >= 3 and 2 * kept >= len(original.split())
