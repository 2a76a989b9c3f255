"""Perspective's `comments:analyze` shapes (v1alpha1) and their mapping onto a verdict.

Attributes come from the verdict's labels; the six Perspective calls "production" attributes
that the models score are offered, nothing else. A language is supported when the models read it
(English, Arabic) and the attribute's label was scored for it (`severe_toxic` is English only).
Errors take Google's shape: `{"error": {"code", "message", "status", "details"}}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from api.compat import MISSING_KEY
from infra.errors import RateLimited, Refused, Unauthenticated
from schemas.moderate import ModerateAnswer, SentenceScore

ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxic",
    "SEVERE_TOXICITY": "severe_toxic",
    "IDENTITY_ATTACK": "identity_hate",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
}
"""Perspective attribute → the label whose score it reports."""

LANGUAGES = frozenset({"en", "ar"})
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class PerspectiveError(Exception):
    """A refusal in Google's error shape."""

    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": STATUS.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


def refused(exc: Refused) -> PerspectiveError:
    """A refused key as Google refuses it: 403 without one, 400 for one it does not know."""
    if isinstance(exc, Unauthenticated):
        if exc.code == MISSING_KEY:
            return PerspectiveError(403, "The request is missing a valid API key.")
        return PerspectiveError(400, "API key not valid. Please pass a valid API key.")
    return PerspectiveError(429 if isinstance(exc, RateLimited) else 403, exc.message)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TextEntry(_Shape):
    text: str = Field(max_length=20_480, description="UTF-8 text (Perspective's limit: 20 KB).")
    type: Literal["PLAIN_TEXT"] = Field(
        default="PLAIN_TEXT", description="Only `PLAIN_TEXT`; `HTML` is refused."
    )


class Context(_Shape):
    entries: list[TextEntry] = Field(default_factory=list, max_length=20)


class AttributeParameters(_Shape):
    scoreType: Literal["PROBABILITY"] = "PROBABILITY"
    scoreThreshold: float | None = Field(default=None, ge=0.0, le=1.0)


class AnalyzeCommentRequest(_Shape):
    comment: TextEntry
    context: Context | None = None
    requestedAttributes: dict[str, AttributeParameters] = Field(min_length=1)
    languages: list[str] = Field(default_factory=list, max_length=10)
    # Strict: a JSON boolean, as the schema says (`0` is not `false`).
    spanAnnotations: Annotated[bool, Strict()] = False
    doNotStore: Annotated[bool, Strict()] = False
    clientToken: str | None = Field(default=None, max_length=256)
    sessionId: str | None = Field(default=None, max_length=256)
    communityId: str | None = Field(default=None, max_length=256)


class Score(_Shape):
    value: float
    type: Literal["PROBABILITY"] = "PROBABILITY"


class SpanScore(_Shape):
    begin: int
    end: int
    score: Score


class AttributeScores(_Shape):
    summaryScore: Score
    spanScores: list[SpanScore]


class AnalyzeCommentResponse(_Shape):
    attributeScores: dict[str, AttributeScores]
    languages: list[str]
    detectedLanguages: list[str]
    clientToken: str | None = None


def _primary(tag: str) -> str:
    """`en-US` → `en` (BCP-47 and ISO codes are both accepted)."""
    return tag.strip().lower().replace("_", "-").split("-")[0]


def check_request(request: AnalyzeCommentRequest) -> str | None:
    """The language to judge in (None: detect); `PerspectiveError` for an attribute or a
    language Modstream does not offer."""
    unknown = sorted(a for a in request.requestedAttributes if a not in ATTRIBUTES)
    if unknown:
        raise PerspectiveError(
            400,
            f"Attribute {unknown[0]} is not supported (supported: {', '.join(ATTRIBUTES)}).",
            [{"@type": ERROR_TYPE, "errorType": "INVALID_REQUESTED_ATTRIBUTE"}],
        )
    if not request.comment.text.strip():
        raise PerspectiveError(
            400, "Comment text was empty.", [{"@type": ERROR_TYPE, "errorType": "COMMENT_EMPTY"}]
        )
    if not request.languages:
        return None
    wanted = [_primary(tag) for tag in request.languages]
    supported = [lang for lang in wanted if lang in LANGUAGES]
    if not supported:
        attribute = next(iter(request.requestedAttributes))
        raise unsupported_language(attribute, request.languages, [])
    return supported[0]


def unsupported_language(
    attribute: str, requested: list[str], detected: list[str]
) -> PerspectiveError:
    return PerspectiveError(
        400,
        f"Attribute {attribute} does not support request languages: "
        f"{', '.join(requested or detected) or 'und'}",
        [
            {
                "@type": ERROR_TYPE,
                "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                "languageNotSupportedByAttributeError": {
                    "detectedLanguages": detected,
                    "attribute": attribute,
                },
            }
        ],
    )


def check_answer(request: AnalyzeCommentRequest, answer: ModerateAnswer) -> None:
    """Refuse (before anything is published) a text in a language the models do not read, or
    an attribute whose label was not scored in that language."""
    lang = answer.verdict.lang
    for attribute in request.requestedAttributes:
        if lang not in LANGUAGES or ATTRIBUTES[attribute] not in answer.verdict.scores:
            raise unsupported_language(attribute, request.languages, [lang])


def response(request: AnalyzeCommentRequest, answer: ModerateAnswer) -> AnalyzeCommentResponse:
    """Perspective's answer: per attribute its summary score and its span scores (the whole
    comment, or each sentence with `spanAnnotations`); below `scoreThreshold`, left out."""
    verdict = answer.verdict
    scores: dict[str, AttributeScores] = {}
    for attribute, params in request.requestedAttributes.items():
        label = ATTRIBUTES[attribute]
        value = verdict.scores[label]
        if params.scoreThreshold is not None and value < params.scoreThreshold:
            continue
        whole = SentenceScore(
            begin=0, end=len(request.comment.text), toxic=verdict.toxic, labels=verdict.scores
        )
        spans = answer.sentences if request.spanAnnotations else [whole]
        scores[attribute] = AttributeScores(
            summaryScore=Score(value=value),
            spanScores=[
                SpanScore(begin=s.begin, end=s.end, score=Score(value=s.labels.get(label, 0.0)))
                for s in spans
            ],
        )
    return AnalyzeCommentResponse(
        attributeScores=scores,
        languages=request.languages or [verdict.lang],
        detectedLanguages=[verdict.lang],
        clientToken=request.clientToken,
    )


def discovery(root: str) -> dict[str, Any]:
    """A discovery document for `comments.analyze` rooted at `root` (this API's URL), so Google's
    API clients, built from a discovery URL as Perspective's samples do, reach this API."""
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer",
        "canonicalName": "Comment Analyzer",
        "version": "v1alpha1",
        "title": "Perspective-compatible Comment Analyzer (Modstream)",
        "protocol": "rest",
        "rootUrl": root,
        "servicePath": "",
        "baseUrl": root,
        "batchPath": "batch",
        "parameters": {
            "key": {"type": "string", "location": "query", "description": "A Modstream API token."},
            "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"]},
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": {
                        "id": "commentanalyzer.comments.analyze",
                        "path": "v1alpha1/comments:analyze",
                        "flatPath": "v1alpha1/comments:analyze",
                        "httpMethod": "POST",
                        "description": "Scores the requested attributes of a comment.",
                        "parameters": {},
                        "parameterOrder": [],
                        "request": {"$ref": "AnalyzeCommentRequest"},
                        "response": {"$ref": "AnalyzeCommentResponse"},
                    }
                }
            }
        },
        "schemas": {
            "AnalyzeCommentRequest": {"id": "AnalyzeCommentRequest", "type": "object"},
            "AnalyzeCommentResponse": {"id": "AnalyzeCommentResponse", "type": "object"},
        },
    }
