"""Arabizi in `bench quality`: how the fast tier judges Arabic posts written in Latin letters.

No labelled Arabizi set is in the training data, so the held-out Arabic rows are rendered in
the chat alphabet here (`render`): each letter by one of its usual Latin spellings or digits,
picked at random, and short vowels, which Arabic script does not write, inserted between
consonants at random as writers do. The rendering is independent of the transliteration's word
list, but it is synthetic: real Arabizi varies more (dialect spellings, English words mixed in).
The report compares the rows in Arabic script, the rendered rows as served (detected and
transliterated) and the rendered rows read by the English model (what happens to a Latin-script
post without detection), and counts how often English held-out rows are taken for Arabizi.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from streams.text.arabizi import is_arabizi
from streams.text.classifier import Classifier
from streams.training.dataset import Row

__all__ = ["arabizi_report", "render"]

_SPELLINGS: dict[str, tuple[str, ...]] = {
    "ا": ("a", "a", "aa"), "أ": ("a", "2a"), "إ": ("e", "i"), "آ": ("a",), "ب": ("b",),
    "ت": ("t",), "ث": ("th", "s"), "ج": ("j", "g"), "ح": ("7", "7", "h"), "خ": ("5", "kh"),
    "د": ("d",), "ذ": ("th", "z", "dh"), "ر": ("r",), "ز": ("z",), "س": ("s",), "ش": ("sh",),
    "ص": ("s", "9"), "ض": ("d", "9'"), "ط": ("6", "t"), "ظ": ("z", "6'"), "ع": ("3",),
    "غ": ("gh", "8"), "ف": ("f",), "ق": ("q", "2", "9", "g"), "ك": ("k",), "ل": ("l",),
    "م": ("m",), "ن": ("n",), "ه": ("h",), "ة": ("a", "ah", "e"), "و": ("w", "o", "ou", "u"),
    "ي": ("y", "i", "ee", "e"), "ى": ("a", "y"), "ء": ("2", ""), "ؤ": ("2",), "ئ": ("2", "e"),
}  # fmt: skip
_SHORT_VOWELS = ("a", "a", "e", "i", "o", "")


def render(text: str, rng: random.Random) -> str:
    """`text` (Arabic script) in the Latin chat alphabet; other characters kept."""
    out: list[str] = []
    consonant_before = False
    for ch in text:
        spellings = _SPELLINGS.get(ch)
        if spellings is None:
            out.append(ch)
            consonant_before = False
            continue
        latin = rng.choice(spellings)
        vowel = latin[:1] in ("a", "e", "i", "o", "u")
        if consonant_before and not vowel and rng.random() < 0.5:
            out.append(rng.choice(_SHORT_VOWELS))
        out.append(latin)
        consonant_before = bool(latin) and not vowel
    return "".join(out)


def arabizi_report(fast: Classifier, held: Sequence[Row], seed: int = 11) -> dict[str, Any]:
    """ROC-AUC / macro-F1 of `toxic` on held-out Arabic rows three ways, and detection rates."""
    from streams.training.evaluate import binary_metrics

    arabic = [r for r in held if r.lang == "ar"]
    english = [r for r in held if r.lang == "en"]
    if not arabic:
        return {}
    rng = random.Random(seed)
    rendered = [render(r.text, rng) for r in arabic]
    gold = [r.toxic for r in arabic]

    def toxic(texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[float]:
        return [s.toxic for s in fast.classify(texts, langs)]

    return {
        "rows": len(arabic),
        "arabic_script": binary_metrics(gold, toxic([r.text for r in arabic])),
        "arabizi_served": binary_metrics(gold, toxic(rendered)),
        "arabizi_as_english": binary_metrics(gold, toxic(rendered, ["en"] * len(rendered))),
        "detected": sum(map(is_arabizi, rendered)) / len(rendered),
        "english_taken_for_arabizi": (
            sum(is_arabizi(r.text) for r in english) / len(english) if english else 0.0
        ),
        "example": rendered[0],
    }
