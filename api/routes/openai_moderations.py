"""`POST /v1/moderations`: OpenAI's moderation API, so the official client (or any client of it)
only changes its base URL. Its API key is a Modstream API token with the `ingest` scope; each
input is judged, published and stored like `POST /v1/moderate` (source `openai`). Shapes and
the category mapping: api/compat/openai_moderations.py."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.compat import inline_schema
from api.compat import openai_moderations as shapes
from api.compat.openai_moderations import ModerationRequest, OpenAIError
from api.deps import StateDep, principal_for
from api.errors import ApiError
from api.moderation import moderate
from api.routes.assist import AssistDep
from infra.errors import AccountsError, BrokerError, RateLimited, Refused, Unauthenticated
from schemas.moderate import ModerateRequest

log = logging.getLogger(__name__)

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
        tenant = await _tenant(state, request.headers.get("Authorization"))
        raw = await request.body()
        shapes.precheck(raw)
        try:
            body = ModerationRequest.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise OpenAIError(400, f"{where}: {first['msg']}", "invalid_request_error") from exc
        texts = body.texts()
        deadline = state.settings.moderate.deadline
        asks = [ModerateRequest(text=text or " ", source=SOURCE) for text in texts]
        done = await asyncio.gather(
            *[moderate(state, judge.client, tenant, ask, deadline=deadline) for ask in asks]
        )
    except OpenAIError as exc:
        return JSONResponse(exc.body(), exc.status)
    except ApiError as exc:
        kind = "server_error" if exc.status >= 500 else "invalid_request_error"
        return JSONResponse(OpenAIError(exc.status, exc.message, kind, exc.code).body(), exc.status)
    except (BrokerError, AccountsError) as exc:
        log.error("openai route: %s", exc)
        error = OpenAIError(503, "The service is unavailable.", "server_error", "unavailable")
        return JSONResponse(error.body(), 503)
    return JSONResponse(
        {
            "id": f"modr-{uuid.uuid4().hex}",
            "model": body.model,
            "results": [shapes.result(d.response) for d in done],
        }
    )


async def _tenant(state: StateDep, authorization: str | None) -> str:
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token:
        raise OpenAIError(
            401,
            "You didn't provide an API key: send a Modstream API token as "
            "Authorization: Bearer mod_…",
            "invalid_request_error",
        )
    try:
        principal = await run_in_threadpool(principal_for, state, token)
    except Unauthenticated as exc:
        raise OpenAIError(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        ) from exc
    except RateLimited as exc:
        raise OpenAIError(429, str(exc), "requests", "rate_limit_exceeded") from exc
    except Refused as exc:
        raise OpenAIError(403, str(exc), "invalid_request_error", exc.code) from exc
    if "ingest" not in principal.scopes:
        raise OpenAIError(
            403, "The API key needs the 'ingest' scope.", "invalid_request_error",
            "insufficient_scope",
        )  # fmt: skip
    return principal.tenant
