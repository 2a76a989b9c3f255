"""Arabizi: Arabic written in Latin letters and digits ("ya 7mar", "3la rasi", "enta kalb").

Chat and comments in the Levant, the Gulf and the Maghreb are often written this way. An English
model reads it as noise and the Arabic model never sees it, so `is_arabizi` picks it out (digits
standing for Arabic letters inside words, and common Arabizi words, in a text with few English
function words) and `to_arabic_script` transliterates it word by word into Arabic letters, short
vowels dropped as Arabic writes them, for the Arabic model's character n-grams. The word count is
kept, so spans found on the transliteration map back to the original words (`map_spans`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["is_arabizi", "map_spans", "to_arabic_script"]

# Digits that stand for Arabic letters (3 = ع, 7 = ح, 5 = خ, 9 = ق, 2 = ء, 6 = ط, 8 = غ).
_DIGIT_WORD_RE = re.compile(r"^(?=.*[a-z])(?=.*[2356789])[a-z2356789']+$")
_NOT_ARABIZI_RE = re.compile(r"^\d+(?:st|nd|rd|th|s|am|pm|k|m|x|d|h|min|kg|km|g|gb|mb|p|yo)$")
_LATIN_WORD_RE = re.compile(r"[a-z0-9']+")
_ARABIC_RE = re.compile("[\u0600-\u06ff]")
_ARABIZI_WORDS = frozenset(
    """ya yalla yala wallah wallahi walah wlh w'allah inshallah inchallah mashallah habibi habibti
    habibi 7abibi enta inta enti inti ana ente howa hiya ehna e7na ni7na ahna entu into homa
    shu sho chou chnowa chnou chno lesh leh lech ezay izay keda kida kda hayda hada hadi hadha
    hatha mesh mish msh mush mouch mech mch bas bass kteer ktir barcha barsha bzaf bezaf
    3ala 3la ma3 fi feh fih wala walla ya3ni yaani ya3ne tayeb tayb tab 5alas khalas 7ilw helw
    7elo helo kifak kifik keefak kifek labas 3adi 3ady yasser yesser famma fama tawa daba
    bech bch 5ater khater zeda kamen kaman kman sah sa7 ahla ahlan marhaba shukran choukran
    mabrouk rabi rabbi allah 3lik 3lek 3aleik 3leik alik bdi badi bade baddi 3am 7ata 7atta
    kalb kelb kalba 7mar hmar 7mara 7ayawan zebi zeby zby kos kuss koss kosomak kosomk sharmouta
    sharmota charmouta charmota 9a7ba ka7ba kahba 9ahba 3ars 3ahra mnayek manyak nik nayek
    zamel zamal khara 5ara tfeh tfou ibn bint wled weld ukht okht 3ayb 3eib 7aram haram
    ghabi 8abi 4abi 7ayawan wa7ed wahed""".split()
)
_ENGLISH = frozenset(
    """a an and the is are was were to of in on for with you your i me my he she it we they this
    that what not no do does be have has but or so if just like at by from all can will""".split()
)
_MIN_WORDS = 2

# Transliteration, longest match first.
_MULTI = (
    ("3'", "غ"), ("7'", "خ"), ("9'", "ض"), ("sh", "ش"), ("ch", "ش"), ("kh", "خ"), ("gh", "غ"),
    ("th", "ث"), ("dh", "ذ"), ("ou", "و"), ("oo", "و"), ("ee", "ي"), ("ii", "ي"), ("ei", "ي"),
    ("ai", "ي"), ("ay", "ي"), ("aa", "ا"),
)  # fmt: skip
_SINGLE = {
    "2": "ء", "3": "ع", "5": "خ", "6": "ط", "7": "ح", "8": "غ", "9": "ق",
    "b": "ب", "p": "ب", "t": "ت", "j": "ج", "g": "ج", "d": "د", "r": "ر", "z": "ز", "s": "س",
    "f": "ف", "v": "ف", "q": "ق", "k": "ك", "c": "ك", "l": "ل", "m": "م", "n": "ن", "h": "ه",
    "w": "و", "y": "ي", "x": "كس", "'": "",
}  # fmt: skip
_VOWELS = frozenset("aeiou")
# Frequent words whose vowels the rules get wrong.
_KNOWN = {
    "enta": "انت", "inta": "انت", "ente": "انت", "enti": "انتي", "inti": "انتي", "ana": "انا",
    "el": "ال", "al": "ال", "il": "ال", "w": "و", "wa": "و", "ya": "يا", "allah": "الله",
    "wallah": "والله", "wallahi": "والله", "walah": "والله", "wlh": "والله", "omak": "امك",
    "ommak": "امك", "okhtak": "اختك", "ukhtak": "اختك", "kos": "كس", "kuss": "كس", "koss": "كس",
}  # fmt: skip


def _words(text: str) -> list[str]:
    return _LATIN_WORD_RE.findall(text.lower())


def is_arabizi(text: str) -> bool:
    """Whether a Latin-script `text` reads as Arabic in Latin letters and digits."""
    if _ARABIC_RE.search(text):
        return False
    words = _words(text)
    if len(words) < _MIN_WORDS:
        return bool(words) and _digit_word(words[0]) and words[0] in _ARABIZI_WORDS
    digit = sum(_digit_word(w) for w in words)
    known = sum(w in _ARABIZI_WORDS for w in words)
    english = sum(w in _ENGLISH for w in words)
    if english >= 0.25 * len(words):
        return False
    return (digit >= 1 and digit + known >= 0.3 * len(words)) or known >= 0.4 * len(words)


def _digit_word(word: str) -> bool:
    return bool(_DIGIT_WORD_RE.match(word)) and not _NOT_ARABIZI_RE.match(word)


def _word_to_arabic(word: str) -> str:
    if word in _KNOWN:
        return _KNOWN[word]
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        for latin, arabic in _MULTI:
            if word.startswith(latin, i):
                out.append(arabic)
                i += len(latin)
                break
        else:
            ch = word[i]
            if ch in _VOWELS:
                if i == 0:
                    out.append("ا")  # a word-initial vowel is written with an alef
                elif i == n - 1:
                    out.append({"i": "ي", "u": "و", "o": "و"}.get(ch, "ا" if n <= 3 else "ه"))
                elif ch in "ou":
                    out.append("و")
                # other short vowels inside a word are not written
            else:
                out.append(_SINGLE.get(ch, ch))
            i += 1
    return "".join(out) or word


def to_arabic_script(text: str) -> str:
    """`text` with each Latin word transliterated (other characters kept); same word count."""
    return _LATIN_WORD_RE.sub(lambda m: _word_to_arabic(m.group()), text.lower())


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def map_spans(
    original: str, transliterated: str, spans: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Spans of `transliterated` as spans of the words of `original` they cover."""
    src, dst = _word_spans(original), _word_spans(transliterated)
    if len(src) != len(dst):
        return []
    out: list[tuple[int, int]] = []
    for s, e in spans:
        covered = [k for k, (a, b) in enumerate(dst) if a < e and s < b]
        if covered:
            out.append((src[covered[0]][0], src[covered[-1]][1]))
    return out
