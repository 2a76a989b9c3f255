"""What a receiver gets of a judged message, per the tenant's chat mode (plain Python)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from schemas.records import Decision, Verdict

Mode = Literal["withhold", "mask", "flag"]
Outcome = Literal["delivered", "masked", "flagged", "withheld"]


def outcome_of(verdict: Verdict, mode: Mode) -> Outcome:
    """Approved and reviewed messages are delivered; a rejected one per the mode."""
    if verdict.decision != Decision.REJECT:
        return "delivered"
    return {"withhold": "withheld", "mask": "masked", "flag": "flagged"}[mode]  # type: ignore[return-value]


def mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with every character of the toxic spans (and of the whole text, if the model
    gave no span) replaced by `*`; whitespace is kept so the shape stays readable."""
    chars = list(text)
    ranges = spans or [(0, len(text))]
    for start, end in ranges:
        for i in range(max(0, start), min(len(chars), end)):
            if not chars[i].isspace():
                chars[i] = "*"
    return "".join(chars)


def verdict_summary(verdict: Verdict) -> dict[str, Any]:
    return {
        "event_id": verdict.event_id,
        "decision": verdict.decision.value,
        "toxic": verdict.toxic,
        "scores": verdict.scores,
        "spans": [list(s) for s in verdict.spans],
        "lang": verdict.lang,
    }
