"""Rule scores for labels no labeled data set supports: `threat` and `harassment`.

None of the training sets marks threats or cyberbullying, so these labels are not learned: they
are hand-written patterns for the unambiguous, high-harm forms, in English and Arabic (Egyptian,
Gulf, Levantine and MSA spellings):

- `threat`: a first-person promise of violence against the reader ("i'm going to kill you",
  "i know where you live", "هقتلك", "راح اذبحك") or a wish that the reader or a group be killed
  ("you should be shot").
- `harassment`: incitement to self-harm and social exclusion aimed at the reader ("kys",
  "go hang yourself", "nobody likes you", "روح انتحر", "الكل يكرهك").

A label's score is 1.0 when one of its patterns matches and 0.0 otherwise; a match also makes
the text at least `TOXIC_FLOOR` toxic (a review under the default policy) and adds the matched
words to the spans. No data set labels these harms, so their precision and recall are measured
only on the hand-written cases in `rule_cases.jsonl` (`evaluate_rules`), and on real data only
how often they fire; recall on other phrasings is low by design, and quoted or reported threats
match too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CASES_FILE",
    "RULES_VERSION",
    "RULE_LABELS",
    "TOXIC_FLOOR",
    "RuleHit",
    "evaluate_rules",
    "load_cases",
    "match_rules",
    "rule_scores",
]

RULES_VERSION = "rules-v1"
RULE_LABELS: tuple[str, ...] = ("threat", "harassment")
TOXIC_FLOOR = 0.75
CASES_FILE = Path(__file__).resolve().parent / "rule_cases.jsonl"

_YOU = r"(?:you|u|ya|yu|ur|your|yourself|y'all|yall|you all|ye)"
# Up to a few words between the subject and the verb, none of them a negation.
_GAP = (
    r"(?:(?!\b(?:not|never|no|dont|don't|won't|wont|wouldn't|wouldnt|didn't|didnt)\b)"
    r"[^.!?\n]){0,30}?"
)
_HARM = (
    r"(?:kill|murder|shoot|stab|strangle|choke|lynch|rape|slit|behead|decapitate|burn|bury|"
    r"hunt|hurt|skin|gut|slaughter|execute|torture|beat the (?:shit|crap|hell|fuck) out of)"
)

_EN: dict[str, tuple[str, ...]] = {
    "threat": (
        rf"\b(?:i|we|i'm|im|i am|we're|we are|imma|ima|ill|i'll|we'll)\b{_GAP}\b{_HARM}\w*"
        rf"\s+(?:\w+\s+)?{_YOU}\b",
        r"\bi know where (?:you|u) live\b",
        r"\bwatch (?:your|ur) back\b",
        r"\byour days are numbered\b",
        r"\bsleep with one eye open\b",
        r"\b(?:i|we)(?:'ll| will| are going to| am going to|'m going to| gonna)"
        r" (?:find|come for|come after|get) (?:you|u)\b(?! a| an| some| the| one)",
        r"\b(?:coming|comin) for (?:you|u|ya)\b",
        r"\b(?:a )?bullet (?:in|through|between) (?:your|ur) (?:head|skull|brain|eyes|face)\b",
        r"\b(?:i|we)(?:'ll| will| are going to| am going to|'m going to| gonna)"
        r" make (?:you|u) (?:pay|suffer|bleed)\b",
        r"\b(?:you|u|they|them|these \w+|those \w+)\b(?: all)? (?:should|must|need to|ought to|"
        r"deserve to|will) (?:all )?(?:be |get )(?:shot|killed|lynched|hanged|hung|gassed|"
        r"burned|burnt|exterminated|murdered|executed|beheaded|raped)\b",
        r"\b(?:you|u)(?:'re| are| r|re) (?:so )?(?:dead|going to die|gonna die)\b(?! wrong)",
    ),
    "harassment": (
        r"\bk+y+s+\b",
        r"\bkill (?:yo)?ur ?self\b",
        r"\bkill yourselves\b",
        r"\b(?:hang|neck|off|end|shoot|hurt|cut) (?:yo)?ur ?self\b",
        r"\bgo (?:and )?(?:die|jump off|drink bleach|hang (?:yo)?urself|rot)\b",
        r"\bdrink (?:some )?bleach\b",
        r"\b(?:no ?one|nobody|no body) (?:likes|loves|cares about|wants|would miss) (?:you|u)\b",
        r"\b(?:everyone|everybody|we all|all of us) (?:hates|hate) (?:you|u)\b",
        r"\b(?:you|u) (?:should|need to|deserve to|ought to) (?:just )?(?:die|disappear|not exist"
        r"|kill (?:yo)?ur ?self)\b",
        r"\b(?:world|everyone) (?:would be|is|will be) better (?:off )?without (?:you|u)\b",
        r"\bdo (?:us|everyone|the world) a favou?r and"
        r" (?:die|disappear|kill (?:yo)?ur ?self|leave)\b",
        r"\b(?:i )?(?:wish|hope) (?:you|u) (?:were|was|would) (?:dead|die)\b",
        r"\b(?:i )?hope (?:you|u) (?:die|get cancer|get raped|rot|burn)\b",
        r"\bwaste of (?:space|oxygen|air|skin|life)\b",
    ),
}

# Arabic is matched on text with diacritics and tatweel removed and letter forms unified.
_AR_FUT = r"(?:ه|ح|س|لا|ل|راح |رح |رايح |سوف |ح |هن|حن|سن)"
_AR_EN = r"(?:ك|كم|كي|كو)"
_AR: dict[str, tuple[str, ...]] = {
    "threat": (
        rf"(?<!\w){_AR_FUT}ا?(?:قتل|ذبح|دبح|موت|دفن|شنق|حرق|طعن|صفي|فجر|سحل|خلص علي){_AR_EN}(?!\w)",
        rf"(?<!\w){_AR_FUT}ا?(?:قطع|كسر|فتح|فشخ) (?:راس|رقبت|دماغ|عضم|ايد|رجل|لسان|وش|وجه){_AR_EN}"
        r"(?!\w)",
        rf"(?<!\w)بن?ا?(?:قتل|ذبح|دبح){_AR_EN}(?!\w)",  # Levantine present-future: بقتلك
        r"(?<!\w)دمك (?:حلال|مهدور)(?!\w)",
        r"(?<!\w)(?:انا |احنا )?(?:عارف|عارفين|اعرف|نعرف) (?:انت )?(?:ساكن|بيتك|عنوانك|وين ساكن)",
        r"(?<!\w)(?:لازم|يجب|يستاهل|تستاهل|يستاهلو|يستاهلون) (?:يتقتل|يندبح|يتذبح|ينعدم|يتعدم"
        r"|تتقتل|تندبح|تتذبح|يتحرق|يتحرقو|يتقتلو|يندبحو|القتل|الذبح|الاعدام|الحرق)",
        r"(?<!\w)(?:اقتلوه|اقتلوهم|اذبحوه|اذبحوهم|احرقوه|احرقوهم)(?!\w)",
    ),
    "harassment": (
        r"(?<!\w)(?:روح|روحي|رح) (?:موت|موتي|انتحر|انتحري|اشنق نفسك|اقتل نفسك)(?!\w)",
        r"(?<!\w)انتحري(?!\w)",
        r"(?<!\w)(?:اقتل|اقتلي|اشنق|اشنقي) (?:نفسك|روحك)(?!\w)",
        r"(?<!\w)(?:يا ?ريت|ياريتك|ريتك|ان شاء الله|انشالله|يا رب|يارب) "
        r"(?:تموت|تموتي|تنتحر|تنتحري|تولع|ياخدك|ياخذك)(?!\w)",
        r"(?<!\w)(?:محدش|ما حد|ماحد|مفيش حد|لا احد|ولا حد|محد) (?:بيحبك|يحبك|طايقك|يطيقك|عايزك"
        r"|يبيك|يبغاك|يريدك)(?!\w)",
        r"(?<!\w)(?:الكل|كلنا|كل الناس|كل الناس) (?:بيكرهك|يكرهك|بيكرهوك|يكرهوك|نكرهك|بنكرهك)"
        r"(?!\w)",
        r"(?<!\w)(?:الدنيا|العالم) (?:هتبقي|هيبقي|بتكون|ستكون|حتكون|احسن|افضل)"
        r" .{0,12}(?:من غيرك|بدونك)",
    ),
}

# A match right after a negation ("don't kill yourself over it", "لا تنتحر") does not count.
_NEGATION_RE = re.compile(
    r"(?:\b(?:don'?t|do not|never|not|won'?t|wouldn'?t|can'?t|cannot|shouldn'?t|didn'?t)"
    r"\s+(?:\w+\s+)?"
    r"|(?<!\w)(?:لا|ما|مش|متقدرش) (?:\w+ )?)$",
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_ARABIC_LETTER_RE = re.compile("[\u0600-\u06ff]")
_AR_DROP_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_MAP = str.maketrans(
    {
        "\u0623": "\u0627",
        "\u0625": "\u0627",
        "\u0622": "\u0627",
        "\u0649": "\u064a",
        "\u0629": "\u0647",
    }
)


# Cheap first passes: a text with none of these words cannot match any pattern of its language.
_EN_ANCHORS = (
    r"kill|murder|shoot|shot|stab|strangl|chok|lynch|rape|slit|behead|decapitat|burn|bury|hunt"
    r"|hurt|skin|gut|slaughter|execut|tortur|beat|live|back|numbered|eye open|find|come|comin"
    r"|bullet|pay|suffer|bleed|hang|gass|extermin|dead|die|ky+s|neck|self|bleach|rot|like|love"
    r"|care|want|miss|hate|better|favo|waste|hope|wish"
)
_AR_ANCHORS = (
    r"قتل|ذبح|دبح|موت|دفن|شنق|حرق|طعن|صفي|فجر|سحل|خلص|قطع|كسر|فتح|فشخ|دمك|عارف|اعرف|نعرف"
    r"|لازم|يجب|يستاهل|تستاهل|اقتلو|اذبحو|احرقو|روح|رح |انتحر|اقتل|اشنق|ريت|تموت|تولع|ياخ|حب"
    r"|عايزك|يبيك|يبغاك|يريدك|طايقك|يطيقك|كره|غيرك|بدونك"
)


@dataclass(frozen=True, slots=True)
class _Ruleset:
    anchors: re.Pattern[str]
    labels: dict[str, re.Pattern[str]]  # label -> all its patterns as one alternation


def _compile(anchors: str, table: dict[str, tuple[str, ...]]) -> _Ruleset:
    return _Ruleset(
        re.compile(anchors),
        {label: re.compile("|".join(f"(?:{p})" for p in pats)) for label, pats in table.items()},
    )


_RULESETS = {"en": _compile(_EN_ANCHORS, _EN), "ar": _compile(_AR_ANCHORS, _AR)}


@dataclass(frozen=True, slots=True)
class RuleHit:
    label: str
    start: int  # [start, end) in the original text
    end: int


def _arabic_view(text: str) -> tuple[str, list[int] | None]:
    """The text with Arabic diacritics / tatweel dropped and letter forms unified, and where
    marks were dropped, for each of its characters the index in the original text."""
    if not _AR_DROP_RE.search(text):
        return text.translate(_AR_MAP), None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if _AR_DROP_RE.match(ch):
            continue
        out.append(ch.translate(_AR_MAP))
        index.append(i)
    return "".join(out), index


def match_rules(text: str, lang: str) -> list[RuleHit]:
    """Every rule match in `text` (first 10,000 characters), in order; "und" uses both languages."""
    text = text[:10_000]
    hits: list[RuleHit] = []
    for lg in ("en", "ar") if lang not in _RULESETS else (lang,):
        index: list[int] | None = None
        if lg == "ar":
            if not _ARABIC_LETTER_RE.search(text):
                continue
            view, index = _arabic_view(text)
        else:
            view = text.lower()
            if len(view) != len(text):  # a rare letter whose lowercase is longer
                view = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
            view = view.translate(_QUOTES)  # i’ll → i'll (same length)
        ruleset = _RULESETS[lg]
        if not ruleset.anchors.search(view):
            continue
        for label, pattern in ruleset.labels.items():
            for m in pattern.finditer(view):
                if m.end() <= m.start() or _NEGATION_RE.search(
                    view[max(0, m.start() - 24) : m.start()]
                ):
                    continue
                if index is None:
                    hits.append(RuleHit(label, m.start(), m.end()))
                else:
                    # the end takes in the marks of the last letter
                    end = index[m.end()] if m.end() < len(index) else len(text)
                    hits.append(RuleHit(label, index[m.start()], end))
    return sorted(hits, key=lambda h: (h.start, h.end, h.label))


def rule_scores(hits: Iterable[RuleHit]) -> dict[str, float]:
    """1.0 for every rule label with a hit, else 0.0."""
    found = {h.label for h in hits}
    return {label: 1.0 if label in found else 0.0 for label in RULE_LABELS}


# -- evaluation on the hand-written cases -----------------------------------------------------


def load_cases(path: Path = CASES_FILE) -> list[dict[str, Any]]:
    """The hand-written cases: {"text", "lang", "threat": 0/1, "harassment": 0/1}."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_rules(cases: Iterable[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of each rule label per language on the hand-written cases."""
    rows = list(cases if cases is not None else load_cases())
    out: dict[str, dict[str, float]] = {}
    for lang in sorted({str(r["lang"]) for r in rows}):
        part = [r for r in rows if r["lang"] == lang]
        scored = [rule_scores(match_rules(str(r["text"]), lang)) for r in part]
        for label in RULE_LABELS:
            tp = sum(1 for r, s in zip(part, scored, strict=True) if r[label] and s[label] > 0.5)
            fp = sum(
                1 for r, s in zip(part, scored, strict=True) if not r[label] and s[label] > 0.5
            )
            fn = sum(1 for r, s in zip(part, scored, strict=True) if r[label] and s[label] <= 0.5)
            prec = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            out[f"{lang}/{label}"] = {
                "n": float(len(part)),
                "positives": float(tp + fn),
                "precision": prec,
                "recall": rec,
                "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            }
    return out
