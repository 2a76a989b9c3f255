"""Rewrite suggestions: a non-toxic wording of a toxic text that keeps its intent where possible.

Two rewriters behind one interface; both only ever suggest a text the classifier itself judges
acceptable (approved by the tenant's policy, or toxic < 0.5 without one), else they say why not.

- `OfflineRewriter` (the default, and the only one on the streaming hot path): span-guided edits
  from a small curated English and Arabic lexicon. An insult becomes "person" ("you are an idiot"
  → "you are wrong", "what a moron" → "what a person"), "shut up" → "please stop", profane
  intensifiers and vocative insults ("…, you idiot") are dropped, and the rest of the text is
  kept verbatim. Candidates, most faithful first: the lexicon inside the toxic spans; the lexicon
  anywhere; then, for a text scored toxic (not a borderline one), also deleting what the
  classifier still flags. All are scored in one batch.
  It cannot rephrase: threats, slurs used as arguments, sarcasm, or hate expressed in ordinary
  words ("they should all be deported") have no lexicon entry and get no suggestion.
- `ChatRewriter`: any OpenAI-compatible `POST {url}/chat/completions` endpoint, given the text
  and its spans. Its answer is re-scored the same way; on a timeout, an error or a still-toxic
  answer it falls back to the offline rewriter and says why in `note`. The key is sent as a
  bearer token and never logged.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from infra.errors import ConfigError
from infra.settings import RewriteSettings
from schemas.records import Decision, RewriteSuggestion
from streams.policy import DecisionPolicy
from streams.text.classifier import Classifier, TextScores

__all__ = [
    "ChatEndpoint",
    "ChatRewriter",
    "OfflineRewriter",
    "Rewrite",
    "RewriteRequest",
    "Rewriter",
    "lexicon_edits",
    "rewriter_from_settings",
]

log = logging.getLogger(__name__)

Source = Literal["offline", "llm"]


@dataclass(frozen=True, slots=True)
class RewriteRequest:
    text: str
    scores: TextScores  # the text's own scores: its spans guide the rewrite
    policy: DecisionPolicy | None = None  # the suggestion must be approved by it


@dataclass(frozen=True, slots=True)
class Rewrite:
    text: str | None  # None: no acceptable rewrite was found (`note` says why)
    toxic: float | None
    source: Source
    note: str | None = None

    def record(self) -> RewriteSuggestion:
        return RewriteSuggestion(
            text=self.text,
            toxic=None if self.toxic is None else round(self.toxic, 6),
            source=self.source,
            note=self.note[:500] if self.note else None,
        )


class Rewriter(abc.ABC):
    @abc.abstractmethod
    def rewrite(self, requests: Sequence[RewriteRequest]) -> list[Rewrite]:
        """One answer per request, in order."""


def acceptable(scores: TextScores, policy: DecisionPolicy | None) -> bool:
    if policy is None:
        return scores.toxic < 0.5
    return policy.decide(scores.toxic, scores.labels, scores.lang) is Decision.APPROVE


# -- the lexicon --------------------------------------------------------------------------------
# Small and curated on purpose: every entry is a word people use to insult, and its replacement
# is neutral. Matching ignores case; English entries match whole words.


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
    return edits if within is None else _overlapping(edits, within)


def _overlapping(
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


def _delete_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    return apply_edits(text, [(a, b, "") for a, b in spans])


def _keeps_enough(original: str, pruned: str) -> bool:
    """A deletion-only rewrite must leave a message: 3+ words and half the original's."""
    kept = len(pruned.split())
    return kept >= 3 and 2 * kept >= len(original.split())


# -- offline ------------------------------------------------------------------------------------


class OfflineRewriter(Rewriter):
    """Span-guided lexicon edits, verified by the classifier (see the module docstring)."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    def rewrite(self, requests: Sequence[RewriteRequest]) -> list[Rewrite]:
        candidates: list[list[str]] = []
        lexical: list[bool] = []  # had a lexicon word at all
        for req in requests:
            edits = lexicon_edits(req.text)
            spans = req.scores.spans
            first = apply_edits(req.text, _overlapping(edits, spans)) if spans else None
            second = apply_edits(req.text, edits) if edits else None
            found = [c for c in dict.fromkeys([first, second]) if c and c != req.text.strip()]
            candidates.append([c for c in found if c.strip()])
            lexical.append(bool(edits))
        scored = self._score(requests, candidates)
        answers: list[Rewrite | None] = []
        # Last resort, for toxic texts only: also delete what is still flagged. (A borderline
        # text's marked words are often harmless; deleting them would not be a rewrite.)
        retry: list[tuple[int, str]] = []
        for i, (req, options) in enumerate(zip(requests, scored, strict=True)):
            answers.append(self._first_acceptable(req, options))
            if answers[-1] is None and req.scores.toxic > 0.5:
                base, base_scores = options[-1] if options else (req.text, req.scores)
                if base_scores.spans:
                    pruned = _delete_spans(base, base_scores.spans)
                    if pruned != base and _keeps_enough(req.text, pruned):
                        retry.append((i, pruned))
        if retry:
            again = self.classifier.classify(
                [t for _, t in retry], [requests[i].scores.lang for i, _ in retry]
            )
            for (i, text), s in zip(retry, again, strict=True):
                if acceptable(s, requests[i].policy):
                    answers[i] = Rewrite(text, s.toxic, "offline")
        return [
            a if a is not None else Rewrite(None, None, "offline", _why_not(lexical[i], scored[i]))
            for i, a in enumerate(answers)
        ]

    def _score(
        self, requests: Sequence[RewriteRequest], candidates: list[list[str]]
    ) -> list[list[tuple[str, TextScores]]]:
        flat = [(i, c) for i, cs in enumerate(candidates) for c in cs]
        if not flat:
            return [[] for _ in requests]
        scores = self.classifier.classify(
            [c for _, c in flat], [requests[i].scores.lang for i, _ in flat]
        )
        out: list[list[tuple[str, TextScores]]] = [[] for _ in requests]
        for (i, c), s in zip(flat, scores, strict=True):
            out[i].append((c, s))
        return out

    @staticmethod
    def _first_acceptable(
        req: RewriteRequest, options: list[tuple[str, TextScores]]
    ) -> Rewrite | None:
        for text, s in options:
            if acceptable(s, req.policy):
                return Rewrite(text, s.toxic, "offline")
        return None


def _why_not(lexical: bool, options: list[tuple[str, TextScores]]) -> str:
    if not options:
        if not lexical:
            return "no word of the offline lexicon in the text; it cannot rephrase"
        return "nothing would be left after removing the toxic words"
    best = min(s.toxic for _, s in options)
    return f"every offline candidate was still judged toxic (best {best:.2f})"


# -- OpenAI-compatible chat endpoint -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatEndpoint:
    url: str  # base URL; requests go to {url}/chat/completions
    key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: RewriteSettings) -> ChatEndpoint | None:
        if not settings.url:
            return None
        return cls(settings.url.rstrip("/"), settings.key, settings.model, settings.timeout)


SYSTEM_PROMPT = (
    "You rewrite social-media posts so that they are no longer toxic: no insults, profanity, "
    "slurs, threats or harassment. Keep the author's meaning, point of view, language and tone "
    "where that is possible, and change as little as you can. Reply with the rewritten post "
    "only, without quotes or comments."
)


class _ChatFailed(Exception):
    """The endpoint gave no usable answer; the message is the reason, safe to show."""


class ChatRewriter(Rewriter):
    """Asks an OpenAI-compatible chat endpoint; verifies and falls back (module docstring)."""

    def __init__(
        self,
        classifier: Classifier,
        endpoint: ChatEndpoint,
        fallback: Rewriter | None = None,
        *,
        concurrency: int = 4,
    ) -> None:
        if not endpoint.url.startswith(("http://", "https://")):
            raise ConfigError(f"the rewrite endpoint must be an http(s) URL, got {endpoint.url!r}")
        self.classifier = classifier
        self.endpoint = endpoint
        self.fallback = fallback or OfflineRewriter(classifier)
        self.concurrency = max(1, concurrency)
        headers = {"Content-Type": "application/json"}
        if endpoint.key is not None:
            headers["Authorization"] = f"Bearer {endpoint.key.get_secret_value()}"
        self._client = httpx.Client(
            headers=headers, timeout=endpoint.timeout, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    def rewrite(self, requests: Sequence[RewriteRequest]) -> list[Rewrite]:
        if not requests:
            return []
        with ThreadPoolExecutor(min(self.concurrency, len(requests))) as pool:
            answers = list(pool.map(self._ask, requests))
        good = [i for i, a in enumerate(answers) if isinstance(a, str)]
        scores = self.classifier.classify(
            [str(answers[i]) for i in good], [requests[i].scores.lang for i in good]
        )
        out: list[Rewrite | None] = [None] * len(requests)
        notes: dict[int, str] = {
            i: a.args[0] for i, a in enumerate(answers) if isinstance(a, _ChatFailed)
        }
        for i, s in zip(good, scores, strict=True):
            if acceptable(s, requests[i].policy):
                out[i] = Rewrite(str(answers[i]), s.toxic, "llm")
            else:
                notes[i] = f"the chat endpoint's answer was still judged toxic ({s.toxic:.2f})"
        todo = sorted(notes)
        for i in todo:
            log.warning("rewrite: %s; using the offline rewriter", notes[i])
        for i, fb in zip(todo, self.fallback.rewrite([requests[i] for i in todo]), strict=True):
            reason = notes[i] + ("" if fb.note is None else f"; offline: {fb.note}")
            out[i] = Rewrite(fb.text, fb.toxic, fb.source, reason)
        return [a for a in out if a is not None]

    def _ask(self, req: RewriteRequest) -> str | _ChatFailed:
        spans = ", ".join(f'"{req.text[a:b]}"' for a, b in req.scores.spans[:20]) or "(none marked)"
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "temperature": 0.2,
            "max_tokens": min(4096, len(req.text) // 2 + 128),
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Language: {req.scores.lang}\nToxic parts: {spans}\n"
                    f"Post:\n{req.text}",
                },
            ],
        }
        url = f"{self.endpoint.url}/chat/completions"
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException:
            return _ChatFailed(f"the chat endpoint timed out after {self.endpoint.timeout:g}s")
        except httpx.HTTPError as exc:
            return _ChatFailed(f"the chat endpoint is unreachable ({type(exc).__name__})")
        if response.status_code != 200:
            return _ChatFailed(f"the chat endpoint answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _ChatFailed("the chat endpoint's answer is not a chat completion")
        if not isinstance(content, str):
            return _ChatFailed("the chat endpoint's answer is not a chat completion")
        text = content.strip().strip("\"'`“”").strip()
        if not text:
            return _ChatFailed("the chat endpoint answered an empty text")
        if len(text) > 2 * len(req.text) + 200:
            return _ChatFailed("the chat endpoint's answer is far longer than the post")
        return text


def rewriter_from_settings(
    classifier: Classifier, settings: RewriteSettings, *, chat: bool = True
) -> Rewriter:
    """The chat rewriter when one is configured (and `chat`), else the offline one."""
    offline = OfflineRewriter(classifier)
    endpoint = ChatEndpoint.from_settings(settings) if chat else None
    return offline if endpoint is None else ChatRewriter(classifier, endpoint, offline)
