"""The interface every text classifier implements (the linear baseline, later ONNX models)."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["EXPLAINED_ABOVE", "Classifier", "Explainer", "TextScores", "merge_spans"]

EXPLAINED_ABOVE = 0.2
"""Spans explain every text scored more toxic than this, not only those past 0.5: the default
policy approves at or below 0.2, so a moderator sees the words behind every item sent to review."""


@dataclass(frozen=True, slots=True)
class TextScores:
    toxic: float  # overall probability the text is harmful, 0..1
    labels: dict[str, float]  # per-label probabilities, includes "toxic"
    lang: str  # "en", "ar" or "und"
    spans: list[tuple[int, int]]  # [start, end) char ranges of the original text; may be []
    # (always [] at or below EXPLAINED_ABOVE)


class Classifier(abc.ABC):
    # What the last `classify` call sent on to a second tier, and the seconds that tier took
    # (a cascade sets them; the worker's metrics read them).
    last_escalated: int = 0
    last_second_tier_seconds: float = 0.0

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """E.g. "linear-v1:<short content hash of the artifact>"."""

    @property
    @abc.abstractmethod
    def labels(self) -> tuple[str, ...]:
        """Every label this classifier can score (a language model may score a subset)."""

    @abc.abstractmethod
    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        """Score a batch; langs[i] is the producer-given language or None (then detect).

        One result per text, in the same order.
        """


@runtime_checkable
class Explainer(Protocol):
    """A classifier that can name the words responsible in texts judged some other way (a long
    text scored window by window is explained read whole)."""

    def explain(
        self, texts: Sequence[str], langs: Sequence[str | None]
    ) -> list[list[tuple[int, int]] | None]:
        """Spans per text; None for a text too long to read whole."""


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans covering the same characters (overlapping or touching ones merged)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
