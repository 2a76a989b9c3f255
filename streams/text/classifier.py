"""The interface every text classifier implements (the linear baseline, later ONNX models)."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Classifier", "TextScores", "merge_spans"]


@dataclass(frozen=True, slots=True)
class TextScores:
    toxic: float  # overall probability the text is harmful, 0..1
    labels: dict[str, float]  # per-label probabilities, includes "toxic"
    lang: str  # "en", "ar" or "und"
    spans: list[tuple[int, int]]  # [start, end) char ranges of the original text; may be []


class Classifier(abc.ABC):
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


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans covering the same characters (overlapping or touching ones merged)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
