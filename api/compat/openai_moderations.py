"""OpenAI's `/v1/moderations` shapes and their mapping onto verdicts.

Scored categories come from the verdict's labels; the others are reported 0 and false, because
the models do not judge them (sexual content, self-harm, illicit advice, graphic violence).
A category is true at a score of 0.5 or more; `flagged` is true when any category is, or when
the tenant's policy rejects the text (so profanity the policy rejects is flagged with no
OpenAI category true). Errors take OpenAI's shape: `{"error": {"message", "type", "param",
"code"}}`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.compat import MISSING_KEY
from infra.errors import RateLimited, Refused, Unauthenticated
from schemas.events import MAX_TEXT_CHARS
from schemas.records import Decision, Verdict

DEFAULT_MODEL = "omni-moderation-latest"
MAX_INPUTS = 32
CATEGORY_TRUE_AT = 0.5

CATEGORIES: tuple[str, ...] = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
SCORED: dict[str, tuple[str, ...]] = {
    "harassment": ("insult", "harassment"),
    "harassment/threatening": ("threat",),
    "hate": ("identity_hate",),
    "violence": ("threat",),
}
"""Category → the labels whose highest score it reports."""
BOTH: dict[str, tuple[str, str]] = {"hate/threatening": ("identity_hate", "threat")}
"""Category → two labels that must both hold (it reports the lower score)."""


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}
        }


def refused(exc: Refused) -> OpenAIError:
    """A refused key as OpenAI refuses it."""
    if isinstance(exc, Unauthenticated):
        if exc.code == MISSING_KEY:
            return OpenAIError(
                401,
                "You didn't provide an API key: send a Modstream API token as "
                "Authorization: Bearer mod_…",
                "invalid_request_error",
            )
        return OpenAIError(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
    if isinstance(exc, RateLimited):
        return OpenAIError(429, exc.message, "requests", "rate_limit_exceeded")
    return OpenAIError(403, exc.message, "invalid_request_error", exc.code)


class TextInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"]
    text: str = Field(max_length=MAX_TEXT_CHARS)


Input = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class ModerationRequest(BaseModel):
    """OpenAI's request, as far as it is served here: text only (the schema says so, so a
    client generated from it never sends an `image_url` part; one that does gets OpenAI's
    `unsupported_input_type`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: (
        Input
        | Annotated[list[Input], Field(min_length=1, max_length=MAX_INPUTS)]
        | Annotated[list[TextInput], Field(min_length=1, max_length=MAX_INPUTS)]
    ) = Field(
        description="A text, a list of texts, or a list of `{type: text, text}` objects "
        "(`image_url` objects are refused: images are judged through `POST /v1/events`)."
    )
    model: str = Field(default=DEFAULT_MODEL, max_length=128, description="Echoed back.")

    def texts(self) -> list[str]:
        return (
            [self.input]
            if isinstance(self.input, str)
            else [item if isinstance(item, str) else item.text for item in self.input]
        )


def precheck(raw: bytes) -> None:
    """OpenAI's own refusals (an image part, an empty or long list) rather than a generic one
    from validation, which would refuse the same requests (the schema states these limits)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return  # validation says what is wrong with it
    items = doc.get("input") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return
    if any(isinstance(i, dict) and i.get("type") != "text" for i in items):
        raise OpenAIError(
            400,
            "only text inputs are supported here (no image_url)",
            "invalid_request_error",
            "unsupported_input_type",
        )
    if not items:
        raise OpenAIError(400, "input must not be empty", "invalid_request_error")
    if len(items) > MAX_INPUTS:
        raise OpenAIError(400, f"at most {MAX_INPUTS} inputs per request", "invalid_request_error")


def category_scores(verdict: Verdict) -> dict[str, float]:
    scores = dict.fromkeys(CATEGORIES, 0.0)
    for category, labels in SCORED.items():
        scores[category] = max(verdict.scores.get(label, 0.0) for label in labels)
    for category, (a, b) in BOTH.items():
        scores[category] = min(verdict.scores.get(a, 0.0), verdict.scores.get(b, 0.0))
    return scores


def result(verdict: Verdict) -> dict[str, Any]:
    """One entry of `results`, for one input."""
    scores = category_scores(verdict)
    categories = {c: s >= CATEGORY_TRUE_AT for c, s in scores.items()}
    scored = set(SCORED) | set(BOTH)
    return {
        "flagged": any(categories.values()) or verdict.decision is Decision.REJECT,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": {c: ["text"] if c in scored else [] for c in CATEGORIES},
    }
