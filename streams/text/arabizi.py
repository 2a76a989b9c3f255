"""Arabizi: Arabic written in Latin letters and digits ("enta 7mar", "ya 5ara 3aleik").

Chat and social posts from the Arab world are often written this way: the digits stand for
letters Latin has no sign for (2 ء, 3 ع, 5 خ, 6 ط, 7 ح, 8 غ, 9 ق). Left alone such a post is
Latin script, so it would be judged by the English model, which has never seen it. Here it is
recognised (`is_arabizi`) and rewritten in Arabic script (`to_arabic`) for the Arabic model,
with a map back to the original characters so that spans point at what the author wrote.

Recognition needs evidence of two kinds of words: Arabizi digit-letters inside a word ("7mar",
"3ala", "ma3"), or words of a short list of frequent Arabizi words that English does not use
("enta", "mesh", "wallah"). English text-speak that also mixes digits ("gr8", "2day", "b4") is
listed and does not count, nor do digits at the end of a word outside short words ("mp3",
"ps5", "covid19").

Transliteration is word by word: a list of frequent words and their usual Arabic spelling first,
then letter rules (digraphs such as sh, kh, gh; the digit-letters; a vowel at the start of a word
becomes alef, a doubled or final vowel its long letter, other short vowels are dropped, as
Arabic writes them). It is approximate, as Arabizi spelling is: the Arabic model's character
n-grams and `streams.text.arabic.fold_arabic` absorb much of what differs.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

__all__ = ["Transliteration", "is_arabizi", "latin_view", "to_arabic", "written_in_latin"]

_TOKEN_RE = re.compile(r"[a-z0-9']+", re.I)
_LETTERS_RE = re.compile(r"[a-z]", re.I)
# Not words of the post: links, mentions, hashtags, HTML entities (their digits are no evidence).
_NOT_WORDS_RE = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+|&#?\w+;|\\u[0-9a-f]{4}", re.I)
# A digit used as a letter, in a word of three characters or more: between letters or leading
# ("al3ra9en", "3ala"; a leading 2, 6 or 8 is English text-speak: "2much", "8ball"), or ending
# a word ("ma3", "ra7").
_DIGIT_LETTER_RE = re.compile(
    r"^(?=\S{3})(?:[a-z'][a-z0-9']*[2356789][a-z0-9']*[a-z']|[3579][a-z0-9']*[a-z']"
    r"|[a-z]{2}[a-z0-9']*[37])$",
    re.I,
)
_TEXT_SPEAK = frozenset(
    """2day 2nite 2night 2moro 2morrow 2mrw 2u 4u b4 gr8 l8 l8r h8 h8r m8 w8 str8 sk8 g2g
    b2b p2p 2b 2d 3d 3g 5g mp3 mp4 ps3 ps5 h2o co2 f2f 9gag 2go 2nd 3rd 5th 6th 7th 8th 9th
    1st 4th""".split()
)
# Frequent Arabizi words that are not English words, and their usual Arabic spelling.
_DISTINCTIVE: dict[str, str] = {
    "enta": "انت", "inta": "انت", "enti": "انتي", "inti": "انتي", "ente": "انتي",
    "howa": "هو", "huwa": "هو", "heya": "هي", "hiya": "هي", "ehna": "احنا",
    "e7na": "احنا", "i7na": "احنا", "entu": "انتو", "intu": "انتو", "homa": "هما",
    "mesh": "مش", "mish": "مش", "msh": "مش", "mush": "مش", "mosh": "مش", "3ala": "على",
    "3la": "على", "wallah": "والله", "walla": "والله", "wallahi": "والله", "yalla": "يلا",
    "yallah": "يلا", "inshallah": "ان شاء الله", "inshalla": "ان شاء الله",
    "habibi": "حبيبي", "habibti": "حبيبتي", "7abibi": "حبيبي", "shukran": "شكرا",
    "shokran": "شكرا", "ahlan": "اهلا", "marhaba": "مرحبا", "keda": "كده", "kda": "كده",
    "leh": "ليه", "lesh": "ليش", "leish": "ليش", "shu": "شو",
    "ezzay": "ازاي", "izzay": "ازاي", "kifak": "كيفك", "keefak": "كيفك", "kifik": "كيفك",
    "ktir": "كتير", "kteer": "كتير", "kwayes": "كويس", "kwayyes": "كويس", "mni7": "منيح",
    "tamam": "تمام", "mabrook": "مبروك", "ya3ni": "يعني", "yani": "يعني", "ba2a": "بقى",
    "kalb": "كلب", "kelab": "كلاب", "klab": "كلاب", "kalba": "كلبه",
    "7mar": "حمار", "hmar": "حمار", "7umar": "حمار", "7mara": "حماره", "7ayawan": "حيوان",
    "hayawan": "حيوان", "7aywan": "حيوان", "ghabi": "غبي", "ghaby": "غبي", "8abi": "غبي",
    "5ara": "خرا", "khara": "خرا", "zift": "زفت", "sharmoota": "شرموطه",
    "sharmouta": "شرموطه", "sharmota": "شرموطه", "3ahra": "عاهره", "manyak": "منيك",
    "manyok": "منيك", "wes5": "وسخ", "wis5": "وسخ", "wiskh": "وسخ", "7a2eer": "حقير",
    "7aqeer": "حقير", "wa6i": "واطي", "tafeh": "تافه", "majnoon": "مجنون", "magnoon": "مجنون",
    "a7bal": "اهبل", "ahbal": "اهبل", "3abeet": "عبيط", "3abit": "عبيط", "yel3an": "يلعن",
    "yl3an": "يلعن", "la3nat": "لعنه", "ebn": "ابن", "bint": "بنت", "kheir": "خير",
    "khair": "خير", "5eir": "خير", "5air": "خير", "bait": "بيت", "ra7": "راح", "baddi": "بدي",
    "3eib": "عيب", "3eb": "عيب", "7aram": "حرام", "ma3": "مع", "ma3ak": "معك",
    "3aleik": "عليك", "3alek": "عليك", "3alaik": "عليك", "ahl": "اهل", "omak": "امك",
    "ommak": "امك", "ukhtak": "اختك", "o5tak": "اختك", "abuk": "ابوك", "abook": "ابوك",
}  # fmt: skip
_LISTED = frozenset(_DISTINCTIVE)
_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c != "'"})
# Words that are Arabizi too but also English (or names): spelled, never counted as evidence.
_SHARED: dict[str, str] = {
    "ya": "يا", "ye": "يا", "ma": "ما", "la": "لا", "fi": "في", "fe": "في", "min": "من",
    "men": "من", "w": "و", "wa": "و", "eh": "ايه", "el": "ال", "al": "ال", "il": "ال",
    "zay": "زي", "abu": "ابو", "umm": "ام", "akh": "اخ", "ana": "انا", "bent": "بنت",
    "sabah": "صباح", "masa": "مساء", "beit": "بيت", "bade": "بدي", "sho": "شو", "esh": "ايش",
    "bas": "بس", "ibn": "ابن",
}  # fmt: skip
_ARTICLES = frozenset({"el", "al", "il"})
_ENGLISH = frozenset(
    """a about after all also am an and any are as at be because been but by can could did do
    does dont for from get got had has have he her him his how i if im in into is it its just
    like me my no not now of off on one only or our out so some than that the their them then
    there they this to too u up ur us was we were what when where which who why will with would
    you your yours lol omg""".split()
)
_DIGRAPHS = {
    "sh": "ش", "ch": "ش", "kh": "خ", "gh": "غ", "th": "ث", "dh": "ذ", "ou": "و", "oo": "و",
    "uu": "و", "ee": "ي", "ii": "ي", "ei": "ي", "ai": "ي", "ay": "ي", "aa": "ا",
}  # fmt: skip
_LETTERS = {
    "b": "ب", "p": "ب", "t": "ت", "g": "ج", "j": "ج", "d": "د", "r": "ر", "z": "ز", "s": "س",
    "f": "ف", "v": "ف", "q": "ق", "k": "ك", "c": "ك", "l": "ل", "m": "م", "n": "ن", "h": "ه",
    "w": "و", "y": "ي", "x": "كس", "2": "ء", "3": "ع", "5": "خ", "6": "ط", "7": "ح", "8": "غ",
    "9": "ق", "'": "ع",
}  # fmt: skip
_LONG = {"a": "ا", "e": "ي", "i": "ي", "o": "و", "u": "و"}


# A digit-letter next to a letter: with `_LISTED` the cheap first look that turns most English
# texts away.
_DIGIT_NEXT_TO_LETTER_RE = re.compile(r"[a-z'][2356789]|[3579][a-z]", re.I)


def is_arabizi(text: str) -> bool:
    """True when `text` reads as Arabic in Latin letters rather than as English."""
    if not _DIGIT_NEXT_TO_LETTER_RE.search(text) and _LISTED.isdisjoint(
        text.lower().translate(_PUNCTUATION_TO_SPACE).split()
    ):
        return False
    words = [
        w.lower() for w in _TOKEN_RE.findall(_NOT_WORDS_RE.sub(" ", text)) if _LETTERS_RE.search(w)
    ]
    if len(words) < 2:
        return False
    english = sum(w in _ENGLISH for w in words)
    digits = sum(w not in _TEXT_SPEAK and bool(_DIGIT_LETTER_RE.match(w)) for w in words)
    listed = sum(w in _DISTINCTIVE for w in words)
    shared = sum(w in _SHARED for w in words)
    evidence = digits + listed
    # Two words of evidence (one may be a shared word such as "ya"): a lone digit-letter word
    # in English is more often leetspeak ("r3tard") or a count ("5feet") than Arabizi.
    return evidence >= 1 and evidence + shared >= 2 and english < evidence


@dataclass(frozen=True, slots=True)
class Transliteration:
    """`text` in Arabic script; `source[i]` is the range in the original of the word that
    character `i` came from, so spans found in `text` map back to what the author wrote."""

    text: str
    source: tuple[tuple[int, int], ...]

    def original_spans(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for start, end in spans:
            if start >= end or start >= len(self.source):
                continue
            first, last = self.source[start], self.source[min(end, len(self.source)) - 1]
            span = (first[0], last[1])
            if out and span[0] <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], span[1]))
            else:
                out.append(span)
        return out


def to_arabic(text: str) -> Transliteration:
    """`text` with each Latin word written in Arabic script; other characters as they are."""
    parts: list[str] = []
    source: list[tuple[int, int]] = []
    at = 0
    article: tuple[int, int] | None = None  # "el"/"al" waiting to be joined to the next word
    for match in _TOKEN_RE.finditer(text):
        gap = text[at : match.start()]
        word = match.group().lower()
        if article is None:
            _emit(parts, source, gap, (at, match.start()))
        if word in _ARTICLES:
            article = (match.start(), match.end())
            at = match.end()
            continue
        arabic = _word(word) if _LETTERS_RE.search(word) else word
        span = (match.start(), match.end())
        if article is not None:
            arabic, span = "ال" + arabic, (article[0], match.end())
            article = None
        _emit(parts, source, arabic, span)
        at = match.end()
    if article is not None:
        _emit(parts, source, "ال", article)
    _emit(parts, source, text[at:], (at, len(text)))
    return Transliteration("".join(parts), tuple(source))


def _emit(
    parts: list[str], source: list[tuple[int, int]], chunk: str, span: tuple[int, int]
) -> None:
    if not chunk:
        return
    parts.append(chunk)
    if span[1] - span[0] == len(chunk):  # copied through: character for character
        source.extend((span[0] + i, span[0] + i + 1) for i in range(len(chunk)))
    else:
        source.extend([span] * len(chunk))


def _word(word: str) -> str:
    known = _DISTINCTIVE.get(word) or _SHARED.get(word)
    if known:
        return known
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        pair = word[i : i + 2]
        if len(pair) == 2 and pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        ch = word[i]
        if ch in _LONG:
            if i == 0:
                out.append("ا")
            elif i == n - 1:
                out.append("ه" if ch == "a" and n > 3 else _LONG[ch])
            elif ch in "ou":
                out.append("و")
            # other short vowels inside a word are not written
        elif ch.isdigit() and ch not in _LETTERS:
            out.append(ch)
        else:
            out.append(_LETTERS.get(ch, ch))
        i += 1
    return "".join(out)


_ARABIC_LETTER_RE = re.compile("[\u0621-\u064a]")


def written_in_latin(text: str) -> bool:
    """Latin letters and no Arabic ones."""
    return not _ARABIC_LETTER_RE.search(text) and bool(_LETTERS_RE.search(text))


def latin_view(text: str) -> Transliteration | None:
    """`text` in Arabic script for a model that reads Arabic, if it is written in Latin letters
    (None when it already holds Arabic letters or has no Latin letter to transliterate)."""
    return to_arabic(text) if written_in_latin(text) else None
