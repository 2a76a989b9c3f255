"""Which labels the fast tier learns, and how each is derived from the labeled data.

Every label is a function of a `Row` that answers 1, 0 or None ("this source does not say"); a
model for a label is fitted only on the rows that carry it. The sets label different things, so
each label documents its sources in `LABEL_SOURCES` (the model card prints them):

- `toxic`: the sets' own offensive / abusive / hateful judgement.
- `identity_hate`: hate speech (attacks on a protected group) where the set marks it.
- `insult`: the sets' offensive-but-not-hate classes (Davidson offensive_language, HateXplain
  offensive, OSACT2020 OFF without HS, MPOLD offensive without a hate or vulgar sub-label) against
  their harmless rows; hate rows do not say (they often insult too) and are left out.
- `obscene`: Arabic from MPOLD's vulgar sub-label; everywhere else weak supervision from the
  curated profanity lexicons below: a text the set judged toxic that contains a lexicon term (for
  toxic spans: a gold span that contains one) is obscene, a text with no lexicon term is not, and
  a text judged harmless although it contains a term does not say.
- `severe_toxic` (English only): Davidson rows whose annotators voted hate speech unanimously
  (Davidson is the only set with votes); every other Davidson row is 0.

`threat` and `harassment` are not learned (no set labels them); `streams.text.rules` scores them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from streams.text.normalize import normalize
from streams.training.dataset import Row

__all__ = ["LABELS", "LABEL_SOURCES", "blanked_targets", "has_profanity", "targets"]

LABELS: dict[str, tuple[str, ...]] = {
    "en": ("toxic", "identity_hate", "insult", "obscene", "severe_toxic"),
    "ar": ("toxic", "identity_hate", "insult", "obscene"),
}

LABEL_SOURCES: dict[str, dict[str, str]] = {
    "toxic": {
        "en": "Davidson (hate or offensive), HateXplain (hatespeech or offensive), toxic spans"
        " (all toxic; each post with its spans blanked is added as a pseudo-negative)",
        "ar": "OSACT2020 (OFF), MPOLD (offensive)",
    },
    "identity_hate": {
        "en": "Davidson hate_speech, HateXplain hatespeech",
        "ar": "OSACT2020 HS, MPOLD hate sub-label",
    },
    "insult": {
        "en": "Davidson offensive_language, HateXplain offensive (1) against neither / normal (0);"
        " hate rows left out",
        "ar": "OSACT2020 OFF without HS, MPOLD offensive without a sub-label (1) against"
        " NOT_OFF / non-offensive (0); hate and vulgar rows left out",
    },
    "obscene": {
        "en": "weak supervision: toxic rows containing a term of the curated English profanity"
        " lexicon (toxic spans: a gold span containing one) (1), rows without a term (0)",
        "ar": "MPOLD vulgar sub-label (1) against its other rows (0); OSACT2020 by the curated"
        " Arabic lexicon as in English (weak supervision)",
    },
    "severe_toxic": {
        "en": "Davidson rows with unanimous hate-speech votes (1) against every other Davidson"
        " row (0)",
    },
}

# Curated profanity lexicons: vulgar and sexual terms, not slurs (slurs belong to identity_hate)
# and not plain insults. Matched on `normalize`d text as whole words; English stems allow the
# usual inflections and common obfuscations (f*ck, sh!t written as sh t after normalisation).
_EN_TERMS = r"""
    f+u*c+k+\w* | f[\*@#]+c?k\w* | f[\*@#u]?ck\w* | fuk\w* | fck\w* | fuq\w* | wtf | stfu | gtfo
    | \w*fucker\w* | mofo
    | shit\w* | sh[\*!i]t\w* | bullshit\w* | \w+shit
    | bitch\w* | b[\*!i]tch\w* | biatch | cunt\w* | c[\*u]nt | twat\w*
    | dick | dicks | dickhead\w* | cock | cocks | cocksucker\w* | pussy | pussies | puss
    | ass | asses | asshole\w* | a[\*s]s?hole\w* | arse | arsehole\w* | jackass\w* | dumbass\w*
    | badass | smartass\w* | kissass
    | bastard\w* | whore\w* | slut\w* | skank\w* | hoe | hoes | thot | thots
    | wank\w* | jizz | cum | cumming | tits | titties | titty | boobs | blowjob\w*
    | dildo\w* | porn\w* | piss | pissed | pissing | bollocks | douche\w* | motherf\w*
    | prick | pricks | nutsack | ballsack | butthole\w* | horny | milf
"""
_EN_RE = re.compile(r"(?<![\w*])(?:" + "".join(_EN_TERMS.split()) + r")(?![\w*])")

# Arabic, written as `normalize` leaves it (alef / ya / ta-marbuta unified). Stems may carry a
# conjunction, preposition or article before them and pronoun suffixes after them.
_AR_STEMS = (
    "كس|كسم|كسمك|كسامك|كسختك|زب|زبي|زبر|طيز|شرموط|شرموطه|شراميط|شرمطه|منيوك|منيوكه|منيك|منيكه"
    "|منايك|نيك|ينيك|انيك|نياك|متناك|متناكه|تتناك|اتناك|قحبه|قحاب|قحبات|عرص|معرص|معرصين|عرصه"
    "|تعريص|منكوحه|زق|خرا|خره|شخ|ضراط|بزاز"
)
_AR_RE = re.compile(
    r"(?<![\w])(?:و|ب|ل|يا)?(?:ال)?(?:" + _AR_STEMS + r")(?:ك|كم|ها|ه|هم|ي|ين|ات|كو)?(?![\w])"
)


def has_profanity(text: str, lang: str) -> bool:
    """Whether `text` contains a term of the curated lexicon of `lang` ("en" or "ar")."""
    norm = normalize(text)
    if lang == "ar":
        return _AR_RE.search(norm) is not None
    return _EN_RE.search(norm) is not None


def _profane_span(row: Row) -> bool:
    return any(has_profanity(row.text[s:e], row.lang) for s, e in row.spans or ())


def _obscene(row: Row) -> int | None:
    if row.source == "mpold":
        return 1 if row.sub == "V" else 0
    if row.source == "toxic_spans":
        if _profane_span(row):
            return 1
        return 0 if not has_profanity(row.text, row.lang) else None
    if not has_profanity(row.text, row.lang):
        return 0
    return 1 if row.toxic else None


def _insult(row: Row) -> int | None:
    if row.source == "toxic_spans":
        return None
    if not row.toxic:
        return 0
    if row.hate or row.sub in ("HS", "V"):
        return None
    return 1


def _severe(row: Row) -> int | None:
    if row.source != "davidson":
        return None
    if not row.votes:
        return None
    votes = dict(row.votes)
    total = sum(votes.values())
    return 1 if total > 0 and votes.get("hate_speech", 0) == total else 0


_DERIVE: dict[str, Callable[[Row], int | None]] = {
    "toxic": lambda r: r.toxic,
    "identity_hate": lambda r: r.hate,
    "insult": _insult,
    "obscene": _obscene,
    "severe_toxic": _severe,
}


def targets(row: Row, labels: tuple[str, ...] | None = None) -> dict[str, int | None]:
    """Each label's target for `row` (None where its source does not say)."""
    names = labels if labels is not None else LABELS.get(row.lang, ("toxic",))
    return {name: _DERIVE[name](row) for name in names}


def blanked_targets(text: str, lang: str, labels: tuple[str, ...]) -> dict[str, int | None]:
    """Targets of a toxic-spans post with its spans blanked out (`text`): not toxic and not an
    insult; not obscene unless a lexicon term is left; the other labels do not say."""
    out: dict[str, int | None] = dict.fromkeys(labels)
    for name in ("toxic", "insult"):
        if name in out:
            out[name] = 0
    if "obscene" in out:
        out["obscene"] = None if has_profanity(text, lang) else 0
    return out
