"""Thread context: a short reply that only echoes or endorses its parent is judged with it.

"same to you", "so are you" or "agreed, they should" are harmless alone and harmful under an
insult or a hateful post. The models read one text at a time, so for each post with context:

1. the reply is scored alone (as every text is);
2. if it *leans on its context* (short, and opening with an echo or an endorsement from a small
   English and Arabic list), it is scored again read together with its context (the parent and
   earlier messages, bounded, oldest first); when that reading is toxic, the reply takes its
   scores (never lower than its own);
3. a reply that does not lean on its context keeps its own score: a toxic parent never makes
   "please keep it civil" toxic.

The verdict records what happened (`ContextEffect`). What it cannot do: notice a reply that
endorses its parent in other words ("what he said" is listed; "couldn't have put it better" is
not), or sarcasm; and it is only as good as the model's judgement of the parent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from schemas.records import ContextEffect
from streams.text.classifier import Classifier, TextScores

__all__ = ["ContextJudge", "ContextOutcome", "leans_on_context"]

MAX_REPLY_WORDS = 12
MAX_CONTEXT_CHARS = 1_000  # per context text

# Echoes: phrases that return the parent's words to its author; any short reply may go on.
_ECHOES = r"""
    (?:and\s+)?(?:the\s+)?same\s+(?:to|for|goes\s+for)\s+(?:you|u|ya|yours)
  | (?:and\s+)?(?:you|u|ya)\s+(?:too|as\s+well|also)\b
  | (?:and\s+)?(?:so|same)\s+(?:are|r|do|is|were)\s+(?:you|u|ya|yours|your\s+\w+)
  | (?:and\s+)?(?:you|u)(?:'re|’re|\s+are|\s+r)\s+(?:one|the\s+one|too|also|worse)\b
  | right\s+back\s+at\s+(?:you|ya|u) | back\s+at\s+(?:you|ya|u) | takes\s+one\s+to\s+know\s+one
  | look\s+who(?:'s|’s|\s+is)\s+talking | no\s+(?:you|u)\b | what\s+(?:he|she|they)\s+said
  | و?(?:انت|أنت|إنت|انتي|أنتي)\s+(?:كمان|ايضا|أيضا|أيضاً|ايضاً|اكثر|أكثر)
  | نفس\s+الشيء? | وانت\s+مثله | زيك
"""
# Endorsements: a word that agrees, then nothing, punctuation, or "they should…" ("agreed,
# they should"); "this is a nice day" does not lean on anything.
_ENDORSEMENTS = r"""
    agreed | i\s+agree | (?:i\s+)?(?:totally|completely|fully|so)\s+agree | exactly | this
  | same | (?:so\s+)?true | facts | yes+ | yep | yeah | absolutely | 100\s*% | ditto | likewise
  | well\s+said | couldn'?t\s+agree\s+more | preach | amen | \+1 | indeed
  | صح | صحيح | بالضبط | اتفق | أتفق | معك\s+حق | كلامك\s+صح | والله\s+صح | اكيد | أكيد
"""
_DEMANDS = r"(?:they|he|she|you|we)\s+(?:should|deserve|must|need)"
_DEMANDS_AR = r"يستاهل|يستاهلون|يستحق|يستحقون|يستاهلوا"
_LEANS_RE = re.compile(
    rf"""^\W*(?:
        (?:{_ECHOES})
      | (?:{_ENDORSEMENTS})(?:\W*$|\s*[,.!?;:…،]|\s+(?:{_DEMANDS}))
      | (?:{_DEMANDS}|{_DEMANDS_AR})\b(?=(?:\W*\w+){{0,3}}\W*$)
    )""",
    re.IGNORECASE | re.VERBOSE | re.UNICODE,
)
TOXIC_IN_CONTEXT = 0.5  # the reply read with its context must be toxic for the score to rise


def leans_on_context(text: str, max_words: int = MAX_REPLY_WORDS) -> bool:
    """A short reply that opens with an echo ("same to you") or an endorsement ("agreed")."""
    words = text.split()
    return 0 < len(words) <= max_words and _LEANS_RE.match(text.strip()) is not None


@dataclass(frozen=True, slots=True)
class ContextOutcome:
    scores: TextScores  # what the verdict uses
    effect: ContextEffect | None  # None: the post had no context


class ContextJudge:
    """Weighs thread context into a batch of already-scored texts (see the module docstring)."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        max_items: int = 3,
        max_chars: int = MAX_CONTEXT_CHARS,
        max_words: int = MAX_REPLY_WORDS,
    ) -> None:
        self.classifier = classifier
        self.max_items = max_items
        self.max_chars = max_chars
        self.max_words = max_words

    def together(self, text: str, context: Sequence[str]) -> str:
        """The reply after its context: the bounded context, oldest first, then the reply."""
        kept = [c[: self.max_chars] for c in _read(context)[: self.max_items]]
        return "\n".join([*reversed(kept), text])

    def leans(self, text: str, context: Sequence[str]) -> bool:
        return bool(self.max_items and _read(context)) and leans_on_context(text, self.max_words)

    def judge(self, items: Sequence[tuple[str, TextScores, Sequence[str]]]) -> list[ContextOutcome]:
        """For each `(text, its own scores, context parent first)`: the scores to use and the
        effect to record. One classifier call for every reply that leans on its context."""
        leaning = [i for i, (text, _, context) in enumerate(items) if self.leans(text, context)]
        read = (
            self.classifier.classify(
                [self.together(items[i][0], items[i][2]) for i in leaning],
                [items[i][1].lang if items[i][1].lang != "und" else None for i in leaning],
            )
            if leaning
            else []
        )
        in_context = dict(zip(leaning, read, strict=True))
        return [
            self._outcome(alone, context, in_context.get(i))
            for i, (_, alone, context) in enumerate(items)
        ]

    def score(self, text: str, lang: str | None, context: Sequence[str]) -> ContextOutcome:
        """One text scored alone and, when it leans on its context, with it: one call."""
        leans = self.leans(text, context)
        texts = [text, self.together(text, context)] if leans else [text]
        scored = self.classifier.classify(texts, [lang] * len(texts))
        return self._outcome(scored[0], context, scored[1] if leans else None)

    def _outcome(
        self, alone: TextScores, context: Sequence[str], other: TextScores | None
    ) -> ContextOutcome:
        n = min(len(_read(context)), self.max_items)
        if n == 0:
            return ContextOutcome(alone, None)
        if other is None:
            return ContextOutcome(
                alone, ContextEffect(items=n, toxic_alone=alone.toxic, raised=False)
            )
        raised = other.toxic >= TOXIC_IN_CONTEXT and other.toxic > alone.toxic
        scores = alone
        if raised:
            labels = {k: max(v, other.labels.get(k, 0.0)) for k, v in alone.labels.items()}
            scores = replace(alone, toxic=labels["toxic"], labels=labels)
        effect = ContextEffect(
            items=n, toxic_alone=alone.toxic, toxic_in_context=other.toxic, raised=raised
        )
        return ContextOutcome(scores, effect)


def _read(context: Sequence[str]) -> list[str]:
    return [c for c in context if c.strip()]
