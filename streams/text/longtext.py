"""Long texts: judged window by window, so a toxic passage anywhere is caught.

A whole long text is a poor input for the models: the fast tier reads only its first 10,000
characters and weighs every n-gram against the length (one insult in 3,000 words barely moves
it), and the transformer reads its first ~96 tokens. So a text longer than the models read well
(`whole_words`, default 60) is cut into overlapping windows of words (default 30, overlapping by
10), and:

- the fast tier scans **every** window (it is cheap: ~the cost of the whole text);
- the expensive tier (the cascade's transformer) judges only a **sampled share** of the windows,
  by the text's length (operator settings; defaults 80% of windows for texts up to 500 words,
  60% to 1,000, 40% to 3,000, 20% beyond), **plus every window the fast tier flags** (fast
  toxic ≥ `flag`, default 0.5), and as in the cascade only when the fast tier is unsure of it;
- the text's score per label is the highest of its windows' (one toxic passage makes the text
  toxic); its spans are the fast tier's explanation of the whole text where the fast tier can
  read it whole (`Explainer`, up to 10,000 characters: windows only cut off context), else the
  toxic windows' spans mapped back to the full text.

The sample is deterministic (seeded by the text), spread evenly over the text, so a replay gives
the same verdict. Sampling costs recall only where the fast tier scores a toxic passage below
`flag` and the transformer would have raised it: `modstream bench longtext` measures it.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from infra.settings import LongTextSettings
from streams.text.classifier import (
    EXPLAINED_ABOVE,
    Classifier,
    Explainer,
    TextScores,
    merge_spans,
)

__all__ = [
    "LongTextClassifier",
    "LongTextOptions",
    "SecondOpinion",
    "by_length",
    "judge_long",
    "sample",
    "windows",
]

_WORD_RE = re.compile(r"\S+")

SecondOpinion = Callable[[Sequence[str], Sequence[TextScores], Sequence[bool]], list[TextScores]]
"""(window texts, their fast-tier scores, may each be escalated) -> final scores per window."""


@dataclass(frozen=True, slots=True)
class LongTextOptions:
    """How long texts are cut and sampled (from settings; picklable for model processes)."""

    window_words: int = 30
    overlap_words: int = 10
    whole_words: int = 60  # texts up to this many words are judged whole (the models read them)
    rates: tuple[tuple[int, float], ...] = ((500, 0.8), (1000, 0.6), (3000, 0.4))
    rate_beyond: float = 0.2
    flag: float = 0.5  # fast-tier toxic score from which a window is always judged in full
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.overlap_words < self.window_words:
            raise ValueError("need 0 <= overlap_words < window_words")
        if any(not 0.0 <= r <= 1.0 for _, r in self.rates) or not 0.0 <= self.rate_beyond <= 1.0:
            raise ValueError("sampling rates must be in [0, 1]")

    @classmethod
    def from_settings(cls, settings: LongTextSettings) -> LongTextOptions:
        return cls(
            window_words=settings.window_words,
            overlap_words=settings.overlap_words,
            whole_words=settings.whole_words,
            rates=tuple(sorted(settings.rates.items())),
            rate_beyond=settings.rate_beyond,
        )

    def rate(self, words: int) -> float:
        """The share of windows the expensive tier judges for a text of `words` words."""
        for bound, rate in sorted(self.rates):
            if words <= bound:
                return rate
        return self.rate_beyond

    def is_long(self, text: str) -> bool:
        most = max(self.whole_words, self.window_words)
        return self.enabled and _count_words(text, most + 1) > most


def _count_words(text: str, stop: int) -> int:
    n = 0
    for _ in _WORD_RE.finditer(text):
        n += 1
        if n >= stop:
            break
    return n


def windows(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character ranges of overlapping windows of `size` words that cover every word."""
    words = [m.span() for m in _WORD_RE.finditer(text)]
    if not words:
        return []
    stride = size - overlap
    starts = list(range(0, max(len(words) - overlap, 1), stride))
    if starts[-1] + size < len(words):  # defensive: the last window reaches the last word
        starts.append(len(words) - size)
    out = []
    for s in starts:
        last = min(s + size, len(words)) - 1
        out.append((words[s][0], words[last][1]))
    return out


def sample(n: int, rate: float, seed: str) -> set[int]:
    """`ceil(rate·n)` of `n` window indexes, spread evenly, offset by a seed-derived fraction."""
    k = min(n, math.ceil(rate * n - 1e-9))
    if k <= 0:
        return set()
    digest = hashlib.blake2b(seed.encode("utf-8", "replace"), digest_size=8).digest()
    offset = random.Random(int.from_bytes(digest, "big")).random()
    return {min(n - 1, int((j + offset) * n / k)) for j in range(k)}


@dataclass(frozen=True, slots=True)
class _Plan:
    text: int  # index of the text in the batch
    ranges: list[tuple[int, int]]
    sampled: set[int]


def judge_long(
    texts: Sequence[str],
    langs: Sequence[str | None],
    fast: Classifier,
    second: SecondOpinion | None,
    options: LongTextOptions,
) -> tuple[list[TextScores], int]:
    """Scores of long `texts` judged by windows, and how many windows the expensive tier was
    allowed to see (sampled or flagged). Without `second`, the fast tier alone judges every
    window and nothing is sampled."""
    plans: list[_Plan] = []
    pieces: list[str] = []
    piece_langs: list[str | None] = []
    for i, text in enumerate(texts):
        ranges = windows(text, options.window_words, options.overlap_words)
        words = _count_words(text, 1 << 30)
        chosen = sample(len(ranges), options.rate(words), text) if second else set()
        plans.append(_Plan(i, ranges, chosen))
        pieces.extend(text[a:b] for a, b in ranges)
        piece_langs.extend([langs[i]] * len(ranges))
    first = fast.classify(pieces, piece_langs)
    allowed = [False] * len(pieces)
    at = 0
    for plan in plans:
        for j in range(len(plan.ranges)):
            allowed[at + j] = j in plan.sampled or first[at + j].toxic >= options.flag
        at += len(plan.ranges)
    final = second(pieces, first, allowed) if second else first
    out: list[TextScores] = []
    at = 0
    for plan in plans:
        scores = final[at : at + len(plan.ranges)]
        out.append(_combine(texts[plan.text], plan.ranges, scores, langs[plan.text], fast))
        at += len(plan.ranges)
    if isinstance(fast, Explainer):  # read whole where it can: the windows cut off context
        rows = [i for i, s in enumerate(out) if s.toxic > EXPLAINED_ABOVE]
        found = fast.explain([texts[i] for i in rows], [out[i].lang for i in rows])
        for i, spans in zip(rows, found, strict=True):
            if spans is not None:
                out[i] = replace(out[i], spans=spans)
    return out, sum(allowed) if second else 0


def by_length(
    texts: Sequence[str],
    langs: Sequence[str | None] | None,
    options: LongTextOptions,
    short: Callable[[Sequence[str], Sequence[str | None]], list[TextScores]],
    fast: Classifier,
    second: SecondOpinion | None,
) -> list[TextScores]:
    """`Classifier.classify` for a classifier that windows long texts: the short `texts` through
    `short`, the long ones through `judge_long`; one result per text, in order."""
    if langs is not None and len(langs) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(langs)} languages")
    given = list(langs) if langs is not None else [None] * len(texts)
    is_long = [options.is_long(t) for t in texts]

    def windowed(ts: Sequence[str], ls: Sequence[str | None]) -> list[TextScores]:
        return judge_long(ts, ls, fast, second, options)[0]

    results: list[TextScores | None] = [None] * len(texts)
    for wanted, judge in ((False, short), (True, windowed)):
        idx = [i for i, long in enumerate(is_long) if long is wanted]
        if idx:
            scored = judge([texts[i] for i in idx], [given[i] for i in idx])
            for i, s in zip(idx, scored, strict=True):
                results[i] = s
    return [s for s in results if s is not None]


def _combine(
    text: str,
    ranges: Sequence[tuple[int, int]],
    scores: Sequence[TextScores],
    given: str | None,
    fast: Classifier,
) -> TextScores:
    if not scores:  # no words at all: judge the text as it is
        return fast.classify([text], [given])[0]
    labels: dict[str, float] = {}
    for s in scores:
        for k, v in s.labels.items():
            labels[k] = max(v, labels.get(k, 0.0))
    # Without an explainer: the toxic windows explain a toxic text; one in between, its windows
    # above the line.
    cut = 0.5 if labels["toxic"] > 0.5 else EXPLAINED_ABOVE
    spans: list[tuple[int, int]] = []
    for (start, _), s in zip(ranges, scores, strict=True):
        if s.toxic > cut:
            spans.extend((start + a, start + b) for a, b in s.spans)
    lang = Counter(s.lang for s in scores).most_common(1)[0][0]
    return TextScores(toxic=labels["toxic"], labels=labels, lang=lang, spans=merge_spans(spans))


class LongTextClassifier(Classifier):
    """A one-tier classifier (e.g. the fast tier alone) that judges long texts by windows (every
    window: there is no expensive tier to spare). The cascade does the same with sampling."""

    def __init__(self, inner: Classifier, options: LongTextOptions | None = None) -> None:
        self.inner = inner
        self.options = options or LongTextOptions()

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inner.labels

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        return by_length(texts, langs, self.options, self.inner.classify, self.inner, None)
