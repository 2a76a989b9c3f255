"""What a reader gets of a judged item, per the tenant's delivery mode (plain Python).

One rule for every surface that shows users each other's words: the chat gateway (a message to
its receiver) and the API's threads (a post or comment to its readers). Approved and reviewed
items are shown as written; a rejected one is withheld, masked or shown flagged. A live rule's
`hold DURATION` (docs/rules.md) keeps an item from being shown until `visible_after`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from schemas.records import Decision, Verdict

Mode = Literal["withhold", "mask", "flag"]
Outcome = Literal["delivered", "masked", "flagged", "withheld"]

_REJECTED: dict[str, Outcome] = {"withhold": "withheld", "mask": "masked", "flag": "flagged"}


def outcome_of(verdict: Verdict, mode: Mode) -> Outcome:
    """Approved and reviewed items are delivered; a rejected one per the mode."""
    if verdict.decision != Decision.REJECT:
        return "delivered"
    return _REJECTED[mode]


def visible_after(verdict: Verdict) -> datetime | None:
    """When a held item may first be shown: the verdict's time plus the longest hold a live rule
    asked for; None when no live rule holds it (shadow rules never do)."""
    if verdict.rules is None:
        return None
    seconds = [
        _seconds(action.value)
        for fired in verdict.rules.fired
        for action in fired.actions
        if action.kind == "hold"
    ]
    if not seconds:
        return None
    return verdict.judged_at + timedelta(seconds=max(seconds))


def _seconds(value: str) -> float:
    """A hold's seconds as the worker records them; 0 for a value it never writes."""
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0


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


def shown_text(text: str, outcome: Outcome, spans: Sequence[tuple[int, int]]) -> str | None:
    """The text a reader sees for this outcome: None when withheld."""
    if outcome == "withheld":
        return None
    return mask(text, spans) if outcome == "masked" else text


def verdict_summary(verdict: Verdict) -> dict[str, Any]:
    return {
        "event_id": verdict.event_id,
        "decision": verdict.decision.value,
        "toxic": verdict.toxic,
        "scores": verdict.scores,
        "spans": [list(s) for s in verdict.spans],
        "lang": verdict.lang,
    }
