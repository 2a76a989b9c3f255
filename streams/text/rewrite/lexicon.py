"""The offline rewriter's lexicon: small and curated on purpose. Every entry is a word people
use to insult, and its replacement is neutral. Matching ignores case; English entries match
whole words. `lexicon_edits` finds the edits; `edits.apply_edits` applies them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal


def _alt(words: str) -> str:
    return "|".join(sorted(words.split(), key=len, reverse=True))


_EN_NOUNS = _alt(
    """idiot idiots moron morons imbecile imbeciles cretin cretins loser losers jerk jerks fool
    fools dumbass dumbasses dipshit dipshits dickhead dickheads prick pricks asshole assholes
    arsehole arseholes bastard bastards bitch bitches scumbag scumbags douche douchebag
    douchebags twat twats cunt cunts wanker wankers retard retards clown clowns slut sluts whore
    whores faggot faggots fag fags nigger niggers nigga niggas tranny trannies dyke dykes kike
    kikes spic spics chink chinks wetback wetbacks raghead ragheads towelhead towelheads paki
    pakis gook gooks coon coons"""
)
_EN_NOUN_PHRASES = (
    r"piece\s+of\s+(?:shit|crap|garbage|trash)|pieces\s+of\s+(?:shit|crap|garbage|trash)"
    r"|sons?\s+of\s+(?:a\s+)?bitch(?:es)?"
)
_EN_NOUN = rf"(?:{_EN_NOUN_PHRASES}|{_EN_NOUNS})"
_EN_ADJECTIVES = {
    "stupid": "unwise", "dumb": "unwise", "idiotic": "unwise", "moronic": "unwise",
    "retarded": "unwise", "brainless": "unwise", "pathetic": "disappointing",
    "worthless": "unhelpful", "useless": "unhelpful", "ugly": "unpleasant",
    "disgusting": "unpleasant", "stupidest": "worst", "dumbest": "worst", "ignorant": "uninformed",
    "shitty": "bad", "crappy": "bad",
}  # fmt: skip
_EN_ADJ = _alt(" ".join(_EN_ADJECTIVES))
_EN_INTENSIFIERS = _alt(
    """fucking fuckin fking fkn effing frigging bloody damn damned goddamn goddamned"""
)
_EN_FILLER = rf"(?:(?:such|a|an|the|total|complete|absolute|real|little|big|fat|{_EN_INTENSIFIERS}"
_EN_FILLER += rf"|{_EN_ADJ})\s+)*"

_AR_NOUNS = _alt(
    """حمار حمير جحش كلب كلاب حيوان حيوانات خنزير خنازير بقره بقرة تيس زباله زبالة عاهره
    عاهرة شرموطه شرموطة قحبه قحبة منيوك خول متناك حقير حقيره حقيرة حقراء سافل سافله سافلة
    واطي وسخ وسخه وسخة قذر قذره قذرة"""
)
_AR_ADJECTIVES = {
    "غبي": "خاطئ", "غبيه": "خاطئة", "غبية": "خاطئة", "اغبياء": "خاطئون", "أغبياء": "خاطئون",
    "تافه": "غير مقنع", "تافهه": "غير مقنعة", "تافهة": "غير مقنعة", "جاهل": "خاطئ",
    "جاهله": "خاطئة", "جاهلة": "خاطئة", "متخلف": "خاطئ", "متخلفه": "خاطئة", "متخلفة": "خاطئة",
}  # fmt: skip
_AR_ADJ = _alt(" ".join(_AR_ADJECTIVES))
# "انت غبي" (you are stupid) → "رأيك خاطئ" (your opinion is wrong): the Arabic model reads a
# bare "انت" as hostile, so the pronoun goes too.
_AR_OPINION = {"انت": "رأيك خاطئ", "أنت": "رأيك خاطئ", "إنت": "رأيك خاطئ", "انتي": "رأيك خاطئ",
               "أنتي": "رأيك خاطئ", "هو": "رأيه خاطئ", "هي": "رأيها خاطئ", "انتم": "رأيكم خاطئ",
               "أنتم": "رأيكم خاطئ", "هم": "رأيهم خاطئ"}  # fmt: skip
_AR_PRON = _alt(" ".join(_AR_OPINION))
_AW = r"(?<![\w])"  # Arabic words: no \b (clitics), but never inside another word
_AE = r"(?![\w])"


# What a rule needs in a text before it is worth running: most texts have no lexicon word at
# all, and then cost one tokenisation instead of every rule's search.
Needs = Literal["en", "insult", "ar"]
_INSULT_WORDS = frozenset(f"{_EN_NOUNS} shit crap garbage trash".replace("|", " ").split())
_EN_WORDS = _INSULT_WORDS | frozenset(
    f"{_EN_ADJ} {_EN_INTENSIFIERS} shut stfu fuck fucked piss bugger sod screw hell heck kill "
    "hang kys wtf f af bullshit".replace("|", " ").split()
)  # every English rule matches at least one of these words
_LATIN_WORD = re.compile(r"[a-z]+")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def _present(text: str) -> dict[Needs, bool]:
    words = set(_LATIN_WORD.findall(text.lower()))
    return {
        "en": not _EN_WORDS.isdisjoint(words),
        "insult": not _INSULT_WORDS.isdisjoint(words),
        "ar": _ARABIC.search(text) is not None,
    }


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]
    needs: Needs


def _const(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: value


def _rule(
    pattern: str, replace: str | Callable[[re.Match[str]], str], needs: Needs = "en"
) -> _Rule:
    fn = _const(replace) if isinstance(replace, str) else replace
    return _Rule(re.compile(pattern, re.IGNORECASE), fn, needs)


def _ar(pattern: str, replace: str | Callable[[re.Match[str]], str]) -> _Rule:
    return _rule(pattern, replace, "ar")


_DETERMINERS = frozenset(
    "a an the this that these those such some any his her their my your our its what".split()
)


def _person(m: re.Match[str]) -> str:
    """The insult's replacement: "people" for a plural head noun ("idiots", "pieces of shit"),
    "person" after a determiner ("what a moron"), else nothing: a bare singular insult is a
    vocative ("nice one, dumbass")."""
    words = m.group(0).lower().split()
    head = words[words.index("of") - 1] if "of" in words else words[-1]
    plural = head.endswith("s") and not head.endswith("ss")
    before = m.string[: m.start()].split()
    if not plural and (not before or before[-1].lower() not in _DETERMINERS):
        return ""
    return "people" if plural else "person"


def _after_verb(word: str) -> Callable[[re.Match[str]], str]:
    """Keep the verb of group 1 ("are", "'re") and put `word` after it."""
    return lambda m: f"{m.group(1)} {word}"


# Ordered: the first rule that matches a stretch of text wins it.
_RULES: tuple[_Rule, ...] = (
    # Imperatives first: they keep their intent in a polite form.
    _rule(r"\bshut\s+(?:the\s+(?:fuck|hell|heck)\s+|your\s+(?:\w+\s+)?(?:mouth|face|trap)\s*)?up\b",
        "please stop"),
    _rule(r"\bstfu\b", "please stop"),
    _rule(r"\b(?:fuck|piss|bugger|sod)\s+off\b", "please leave me alone"),
    _rule(r"\b(?:fuck|screw)\s+(?:you|u)\b", "I disagree"),
    _rule(r"\bgo\s+to\s+hell\b", "go away"),
    _rule(r"\b(?:go\s+)?(?:kill|hang)\s+(?:yo)?urself\b|\bkys\b", ""),
    _rule(r"\bwhat\s+the\s+(?:fuck|hell|heck|f)\b|\bwtf\b", "what"),
    _rule(r"\bthe\s+(?:fuck|hell)\b", ""),
    _rule(r"\bas\s+(?:fuck|hell)\b|\baf\b", ""),
    # "you are an idiot" → "you are wrong"; a vocative "…, you idiot" is dropped.
    _rule(rf"\b(am|are|is|was|were|be|being|'re|’re|'s|’s)\s+{_EN_FILLER}{_EN_NOUN}\b",
        _after_verb("wrong"), "insult"),
    _rule(rf"\b(?:you|u|ya)\s+{_EN_FILLER}{_EN_NOUN}\b", "", "insult"),
    # An insult noun with its adjectives: "what a stupid idiot" → "what a person".
    _rule(rf"\b(?:(?:{_EN_ADJ}|{_EN_INTENSIFIERS})\s+)*{_EN_NOUN}\b", _person, "insult"),
    _rule(rf"\b(?:{_EN_ADJ})\b", lambda m: _EN_ADJECTIVES[m.group(0).lower()]),
    _rule(r"\b(is|was|are|were|'s|’s)\s+(?:(?:such|a|total|complete|absolute|utter)\s+)*"
        r"(?:bullshit|crap)\b", _after_verb("not true")),
    _rule(r"\b(is|was|are|were|'s|’s)\s+(?:(?:such|a|total|complete|absolute|utter)\s+)*shit\b",
        _after_verb("bad")),
    _rule(r"\bbullshit\b", "not true"),
    _rule(r"\b(?:shit|crap)\b", "stuff"),
    _rule(rf"\b(?:{_EN_INTENSIFIERS})\b", ""),
    _rule(r"\bfuck(?:ing|in|ed)?\b", ""),
    # Arabic: "اسكت/اخرس" (shut up), vocatives "يا حمار", "انت غبي", curses, then single words.
    _ar(rf"{_AW}(?:[وف])?(?:اسكت|اسكتي|اسكتوا|اخرس|اخرسي|اخرسوا|انطم|انقلع){_AE}", "من فضلك توقف"),
    _ar(rf"{_AW}(?:[وف])?(?:الله\s+)?(?:يلعن|يلعنك|يلعنكم|لعنة\s+الله\s+عليك|لعنه\s+الله\s+عليك)"
        rf"(?:\s+\w+)?{_AE}", ""),
    _ar(rf"{_AW}(?:[وف])?يا\s*(?:ابن\s+(?:ال)?)?(?:ال)?(?:{_AR_NOUNS}|{_AR_ADJ}){_AE}", ""),
    _ar(rf"{_AW}({_AR_PRON})\s+(?:ال)?(?:{_AR_NOUNS}|{_AR_ADJ}){_AE}",
        lambda m: _AR_OPINION[m.group(1)]),
    _ar(rf"{_AW}(?:ابن\s+(?:ال)?)(?:{_AR_NOUNS}){_AE}", "شخص"),
    _ar(rf"{_AW}(?:[وف])?(?:ال)?(?:{_AR_NOUNS}){_AE}", "شخص"),
    _ar(rf"{_AW}(?:[وف])?(?:ال)?({_AR_ADJ}){_AE}", lambda m: _AR_ADJECTIVES[m.group(1)]),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def lexicon_edits(
    text: str, within: Sequence[tuple[int, int]] | None = None
) -> list[tuple[int, int, str]]:
    """The lexicon's edits `(start, end, replacement)` on `text`, sorted, disjoint; with `within`,
    only those that overlap one of those ranges."""
    taken: list[_Edit] = []
    present = _present(text)
    for rule in _RULES:
        if not present[rule.needs]:
            continue
        for m in rule.pattern.finditer(text):
            start, end = m.span()
            if start == end or any(start < e.end and e.start < end for e in taken):
                continue
            taken.append(_Edit(start, end, _match_case(m.group(0), rule.replace(m))))
    edits = [(e.start, e.end, e.text) for e in sorted(taken, key=lambda e: e.start)]
    return edits if within is None else overlapping(edits, within)


def overlapping(
    edits: Sequence[tuple[int, int, str]], ranges: Sequence[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    return [e for e in edits if any(e[0] < b and a < e[1] for a, b in ranges)]


def _match_case(original: str, replacement: str) -> str:
    if not replacement or not original[:1].isalpha():
        return replacement
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement
