"""Turning verdicts into what a page shows: the text cut into plain and toxic runs, ages as
short clocks, scores as bar widths and colour classes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    toxic: bool


def highlight(text: str, spans: Sequence[tuple[int, int]]) -> list[Run]:
    """`text` as runs, the characters inside any span [start, end) marked toxic. Spans may
    overlap, run past the end or come in any order; they are clipped and merged."""
    marked = [False] * len(text)
    for start, end in spans:
        for i in range(max(start, 0), min(end, len(text))):
            marked[i] = True
    runs: list[Run] = []
    for char, toxic in zip(text, marked, strict=True):
        if runs and runs[-1].toxic == toxic:
            runs[-1] = Run(runs[-1].text + char, toxic)
        else:
            runs.append(Run(char, toxic))
    return runs


def age(then: datetime | None, now: datetime | None = None) -> str:
    """How long ago, as a short clock: `45s`, `12m`, `3h 05m`, `2d 4h`."""
    if then is None:
        return "–"
    seconds = max(int(((now or datetime.now(UTC)) - then).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d {seconds % 86_400 // 3600}h"


def score_class(score: float) -> str:
    """The bar colour class of a score: the policy's usual bands (approve, review, reject)."""
    return "high" if score > 0.8 else "mid" if score > 0.2 else "low"


def sla_left(enqueued: datetime, sla_seconds: int, now: datetime) -> int:
    """Seconds left before an entry breaches its queue's SLA (negative once breached)."""
    return sla_seconds - int((now - enqueued).total_seconds())


def clock(seconds: int) -> str:
    """An SLA clock: `41m left`, or `overdue 1h 02m`."""
    span = abs(seconds)
    text = f"{span // 3600}h {span % 3600 // 60:02d}m" if span >= 3600 else f"{span // 60}m"
    return f"{text} left" if seconds >= 0 else f"overdue {text}"
