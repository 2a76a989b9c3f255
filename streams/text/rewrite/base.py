"""What every rewriter takes and answers, and the one test a suggestion must pass."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from schemas.records import Decision, RewriteSuggestion
from streams.policy import DecisionPolicy
from streams.text.classifier import TextScores

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
