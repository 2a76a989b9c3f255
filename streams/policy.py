"""The decision policy: scores in, approve / review / reject out."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import Decision


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """Approve at or below `low`, reject above `high`, send what lies between to review."""

    low: float = 0.2
    high: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={self.low} high={self.high}")

    @property
    def version(self) -> str:
        return f"threshold-v1:{self.low:g}/{self.high:g}"

    def decide(self, score: float) -> Decision:
        if score <= self.low:
            return Decision.APPROVE
        if score > self.high:
            return Decision.REJECT
        return Decision.REVIEW
