"""`POST /v1/moderations`: OpenAI's moderation API, so the official client (or any client of it)
only changes its base URL. Its API key is a Modstream API token with the `ingest` scope; each
input is judged, published and stored like `POST /v1/moderate` (source `openai`). Shapes and
the category mapping: api/compat/openai_moderations.py."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError

from api.compat import first_error, inline_schema
from api.compat import openai_moderations as shapes
from api.compat.openai_moderations import ModerationRequest, OpenAIError
from api.deps import StateDep
from api.errors import ApiError
from api.moderation import moderate_all, tenant_of_key
from api.routes.assist import AssistDep
from infra.errors import Refused
from schemas.moderate import ModerateRequest

router = APIRouter(prefix="/v1", tags=["compatible"])

SOURCE = "openai"
EXAMPLE_RESPONSE: dict[str, Any] = {
    "id": "modr-5f0c9a4e2b7d4c19a0e1",
    "model": "omni-moderation-latest",
    "results": [
        {
            "flagged": True,
            "categories": dict.fromkeys(shapes.CATEGORIES, False) | {"harassment": True},
            "category_scores": dict.fromkeys(shapes.CATEGORIES, 0.0) | {"harassment": 0.91},
            "category_applied_input_types": {
                c: ["text"] if c in {*shapes.SCORED, *shapes.BOTH} else []
                for c in shapes.CATEGORIES
            },
        }
    ],
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
            "required": ["message", "type"],
        }
    },
    "required": ["error"],
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {
        "description": "OpenAI's error shape",
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }
    for s in (400, 401, 403, 409, 429, 503, 504)
}


@router.post(
    "/moderations",
    responses=_ERRORS | {200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}}},
    summary="OpenAI-compatible: classify texts into moderation categories",
    description="OpenAI's `/v1/moderations`: `input` is a text or a list (of texts or `{type: "
    "text, text}`); `model` is echoed. Scored: harassment, harassment/threatening, hate, "
    "hate/threatening, violence; the others are 0 and false. The API key (`Authorization: "
    "Bearer`) is a Modstream API token with the `ingest` scope. Errors in OpenAI's shape.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": inline_schema(ModerationRequest),
                    "example": {"input": "shut up, you idiot", "model": "omni-moderation-latest"},
                }
            },
        }
    },
)
async def moderations(request: Request, state: StateDep, judge: AssistDep) -> JSONResponse:
    try:
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        tenant = await tenant_of_key(state, token if scheme.lower() == "bearer" else None)
        raw = await request.body()
        shapes.precheck(raw)
        try:
            body = ModerationRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise OpenAIError(400, first_error(exc), "invalid_request_error") from exc
        asks = [ModerateRequest(text=text or " ", source=SOURCE) for text in body.texts()]
        done = await moderate_all(state, judge.client, tenant, asks)
    except OpenAIError as exc:
        return JSONResponse(exc.body(), exc.status)
    except Refused as exc:
        error = shapes.refused(exc)
        return JSONResponse(error.body(), error.status)
    except ApiError as exc:
        kind = "server_error" if exc.status >= 500 else "invalid_request_error"
        return JSONResponse(OpenAIError(exc.status, exc.message, kind, exc.code).body(), exc.status)
    return JSONResponse(
        {
            "id": f"modr-{uuid.uuid4().hex}",
            "model": body.model,
            "results": [shapes.result(d.response) for d in done],
        }
    )
