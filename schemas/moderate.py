"""The synchronous moderation contract: `POST /v1/moderate` takes `ModerateRequest`; the API
forwards it, with the caller's tenant and the event's ids, as `ModerateQuery` to the judge (the
`/moderate` route of `modstream assist`), which answers `ModerateAnswer`: the verdict it judged
with the worker's pipeline code, which the API then publishes like a worker's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from schemas.events import MAX_TEXT_CHARS, Identifier, LangCode, Name, PostEvent
from schemas.policy import PolicyDocument
from schemas.records import Score, Verdict

DEFAULT_SOURCE = "moderate"
ANONYMOUS = "anonymous"
MAX_CONTEXT = 20


class ModerateRequest(BaseModel):
    """One text to judge now."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "text": "shut up, you are an idiot",
                    "lang": "en",
                    "author": "user-42",
                    "id": "comment-7731",
                    "context": ["I think the referee got that call right."],
                    "thresholds": {"toxic": {"low": 0.3, "high": 0.9}},
                }
            ]
        },
    )

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: LangCode | None = Field(default=None, description="ISO 639-1 code, if known.")
    author: Identifier = Field(
        default=ANONYMOUS, description="Who wrote it (strikes count per author)."
    )
    id: Identifier | None = Field(
        default=None,
        description="The item's id in your app. Sending the same id again (a retry) answers the "
        "first verdict without judging again; without one, every request is a new item.",
    )
    source: Name = Field(default=DEFAULT_SOURCE, description="Where the item comes from.")
    context: list[str] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT,
        description="The thread it answers, parent first (read for replies that lean on it).",
    )
    store: Annotated[bool, Strict()] = Field(  # `0` is not `false`, as the schema says
        default=True,
        description="`false`: the warehouse keeps only the text's SHA-256 (as privacy mode).",
    )
    thresholds: PolicyDocument | None = Field(
        default=None,
        description="Bands that override the tenant's policy for this item (what they leave out "
        "is the tenant's); the verdict's `policy_version` then starts with `request:`.",
    )


class ModerateQuery(BaseModel):
    """What the API sends the judge: the event it will publish, and the request's overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: PostEvent
    thresholds: PolicyDocument | None = None
    sentences: bool = Field(default=False, description="Also score each sentence on its own.")


class SentenceScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    begin: int = Field(ge=0)
    end: int = Field(ge=0)
    toxic: Score
    labels: dict[str, Score]


class ModerateAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    replayed: bool = Field(description="The item was judged before: this is its first verdict.")
    sentences: list[SentenceScore] = Field(default_factory=list)


class ModerateResponse(Verdict):
    """The verdict, as published on `verdicts.text`, and how it was made and kept."""

    policy: Literal["tenant", "request"] = Field(
        description="`request`: the request's thresholds overrode the tenant's policy."
    )
    stored: Literal["text", "hash"] = Field(
        description="`hash`: only the text's SHA-256 is stored (`store: false` or privacy mode)."
    )
    replayed: bool = Field(
        description="True when this id was judged before: the first verdict, not a new one."
    )
