"""The composer assist contract: what a "new post" composer sends as the user types, and what it
gets back. `POST /v1/assist` takes `AssistRequest`; the API forwards it, with the caller's tenant,
as `AssistQuery` to the assist service (`modstream assist`), which answers `AssistResponse`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.events import LangCode, Name
from schemas.records import ContextEffect, Decision, RewriteSuggestion, Score, Span

MAX_ASSIST_CHARS = 5_000
MAX_ASSIST_CONTEXT = 20
SECRET_HEADER = "X-Assist-Secret"  # noqa: S105 - a header name; its value comes from settings

AssistText = Annotated[str, StringConstraints(max_length=MAX_ASSIST_CHARS)]


class AssistRequest(BaseModel):
    """A draft, as typed so far."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: AssistText = Field(description="The draft (at most 5,000 characters).")
    lang: LangCode | None = Field(default=None, description="ISO 639-1 code, if known.")
    context: list[AssistText] = Field(
        default_factory=list,
        max_length=MAX_ASSIST_CONTEXT,
        description="The thread the draft answers, parent first (at most 20 texts).",
    )
    rewrite: Literal["off", "fast", "best"] = Field(
        default="fast",
        description="`fast`: the offline rewriter (keystroke speed); `best`: the configured "
        "OpenAI-compatible chat endpoint, falling back to offline (for an explicit request, "
        "not every keystroke); `off`: no suggestion.",
    )


class AssistQuery(AssistRequest):
    """What the API forwards to the assist service: the request and the caller's tenant."""

    tenant: Name


class AssistResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    toxic: Score = Field(description="Overall probability that the draft is harmful.")
    labels: dict[str, Score] = Field(description="Probability per label.")
    decision: Decision = Field(description="What the tenant's policy would decide if posted.")
    lang: str
    spans: list[Span] = Field(description="Character ranges of the draft to highlight.")
    rewrite: RewriteSuggestion | None = Field(
        default=None, description="For a draft the policy would not approve."
    )
    context: ContextEffect | None = Field(
        default=None, description="How the thread context was weighed (when one was sent)."
    )
    advice: str | None = Field(
        default=None, description="One short sentence the composer can show; null if none."
    )
    model_version: str
    policy_version: str
    elapsed_ms: float = Field(ge=0.0, description="Time spent judging, in the assist service.")
