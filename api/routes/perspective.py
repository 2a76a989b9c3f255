"""`POST /v1alpha1/comments:analyze`: Perspective's API, so a client of it only changes its base
URL. The API key (`?key=`) is a Modstream API token with the `ingest` scope; the comment is
judged, published and stored like `POST /v1/moderate` (source `perspective`; `doNotStore`: only
the text's SHA-256). Shapes and the attribute mapping: api/compat/perspective.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyQuery
from pydantic import ValidationError

from api.compat import first_error, inline_schema
from api.compat import perspective as shapes
from api.compat.perspective import AnalyzeCommentRequest, PerspectiveError
from api.deps import StateDep
from api.errors import ApiError
from api.moderation import moderate_all, tenant_of_key
from api.routes.assist import AssistDep
from infra.errors import Refused
from schemas.moderate import ModerateRequest

router = APIRouter(tags=["compatible"])

PERSPECTIVE_KEY = APIKeyQuery(
    name="key",
    scheme_name="PerspectiveKey",
    description="Perspective's `?key=`: a Modstream API token (`mod_…`) with the `ingest` scope.",
    auto_error=False,  # refused in Google's shape, below
)
"""A credential, so documented as a security scheme (an API key in the query), not as a
parameter: a client is told to send its key there, not to make one up."""

SOURCE = "perspective"
EXAMPLE_REQUEST: dict[str, Any] = {
    "comment": {"text": "What kind of idiot name is foo?"},
    "languages": ["en"],
    "requestedAttributes": {"TOXICITY": {}, "INSULT": {}},
}
EXAMPLE_RESPONSE: dict[str, Any] = {
    "attributeScores": {
        "TOXICITY": {
            "summaryScore": {"value": 0.92, "type": "PROBABILITY"},
            "spanScores": [
                {"begin": 0, "end": 31, "score": {"value": 0.92, "type": "PROBABILITY"}}
            ],
        },
        "INSULT": {
            "summaryScore": {"value": 0.88, "type": "PROBABILITY"},
            "spanScores": [
                {"begin": 0, "end": 31, "score": {"value": 0.88, "type": "PROBABILITY"}}
            ],
        },
    },
    "languages": ["en"],
    "detectedLanguages": ["en"],
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["code", "message", "status"],
        }
    },
    "required": ["error"],
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": f"Google's error shape ({shapes.STATUS[status]})",
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }
    for status in (400, 403, 409, 429, 503, 504)
}


@router.post(
    "/v1alpha1/comments:analyze",
    response_model=shapes.AnalyzeCommentResponse,
    response_model_exclude_none=True,
    responses=_ERRORS | {200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}}},
    summary="Perspective-compatible: score a comment's attributes",
    description="Perspective's `comments:analyze`. Attributes TOXICITY, SEVERE_TOXICITY "
    "(English only), IDENTITY_ATTACK, INSULT, PROFANITY, THREAT; languages `en` and `ar`. "
    "`?key=` is a Modstream API token with the `ingest` scope. Errors in Google's shape.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": inline_schema(AnalyzeCommentRequest),
                    "example": EXAMPLE_REQUEST,
                }
            },
        }
    },
)
async def analyze(
    request: Request,
    state: StateDep,
    judge: AssistDep,
    key: Annotated[str | None, Security(PERSPECTIVE_KEY)] = None,
) -> JSONResponse:
    try:
        tenant = await tenant_of_key(state, key)
        body = _parse(await request.body())
        lang = shapes.check_request(body)
        ask = ModerateRequest(
            text=body.comment.text,
            lang=lang,
            source=SOURCE,
            context=[e.text for e in body.context.entries] if body.context else [],
            store=not body.doNotStore,
        )
        [done] = await moderate_all(
            state, judge.client, tenant, [ask], sentences=body.spanAnnotations,
            accept=lambda answer: shapes.check_answer(body, answer),
        )  # fmt: skip
    except PerspectiveError as exc:
        return JSONResponse(exc.body(), status_code=exc.code)
    except Refused as exc:
        error = shapes.refused(exc)
        return JSONResponse(error.body(), status_code=error.code)
    except ApiError as exc:
        return JSONResponse(PerspectiveError(exc.status, exc.message).body(), exc.status)
    answer = shapes.response(body, done.answer)
    return JSONResponse(answer.model_dump(exclude_none=True))


def _parse(raw: bytes) -> AnalyzeCommentRequest:
    try:
        return AnalyzeCommentRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise PerspectiveError(400, f"Invalid JSON payload: {first_error(exc)}") from exc


@router.get(
    "/$discovery/rest",
    summary="Perspective-compatible: the discovery document Google's API clients build from",
    description="Perspective's Python sample builds its client from a discovery URL; point "
    "`discoveryServiceUrl` here (`{base}/$discovery/rest?version=v1alpha1`) and the client "
    "calls this API. Only `v1alpha1`. No credential needed.",
    responses={404: {"description": "Not a version served here (Google's error shape)."}},
)
async def discovery_document(
    request: Request,
    version: Annotated[str, Query(max_length=16, examples=["v1alpha1"])] = "v1alpha1",
) -> JSONResponse:
    if version != "v1alpha1":
        return JSONResponse(
            PerspectiveError(404, f"Discovery document for version {version} not found").body(),
            404,
        )
    return JSONResponse(shapes.discovery(str(request.base_url)))
