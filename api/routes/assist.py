"""Composer assist: `POST /v1/assist` scores a draft as the user types.

The judging runs in the assist service (`modstream assist`, loopback only), because the API does
not load models. This route authenticates (`read` or `ingest` scope), validates, and forwards
with the caller's tenant and the shared secret over one keep-alive connection pool.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from api.deps import CurrentPrincipal
from api.errors import ApiError, responses
from infra.settings import AssistSettings
from schemas.assist import SECRET_HEADER, AssistQuery, AssistRequest, AssistResponse

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["assist"])

UNAVAILABLE = "the assist service is not running or did not answer in time (`modstream assist`)"


class AssistClient:
    """The API's connection to the assist service (created and closed with the app)."""

    def __init__(self, settings: AssistSettings) -> None:
        host = settings.host
        host = f"[{host}]" if ":" in host else host
        self.client = httpx.AsyncClient(
            base_url=f"http://{host}:{settings.port}",
            headers={
                SECRET_HEADER: settings.secret.get_secret_value(),
                "Content-Type": "application/json",
            },
            timeout=settings.timeout,
            # Idle connections expire before the service's keep-alive (uvicorn: 5 s) closes them.
            limits=httpx.Limits(max_keepalive_connections=32, keepalive_expiry=4),
        )

    async def ask(self, query: AssistQuery) -> AssistResponse:
        """The service's answer; `ApiError(503)` when it cannot give one."""
        try:
            response = await self.client.post("/assist", content=query.model_dump_json())
        except httpx.HTTPError as exc:
            log.warning("assist service unreachable: %s", type(exc).__name__)
            raise ApiError(503, "assist_unavailable", UNAVAILABLE) from exc
        if response.status_code == 401:
            log.error("the assist service refused the shared secret (MODSTREAM_ASSIST_SECRET)")
            raise ApiError(503, "assist_unavailable", "the assist service is misconfigured")
        if response.status_code != 200:
            log.error("assist service answered HTTP %d", response.status_code)
            raise ApiError(503, "assist_unavailable", "the assist service failed")
        try:
            return AssistResponse.model_validate_json(response.content)
        except ValidationError as exc:
            log.error("assist service answered an invalid body: %s", exc)
            raise ApiError(503, "assist_unavailable", "the assist service failed") from exc

    async def aclose(self) -> None:
        await self.client.aclose()


def assist_client(request: Request) -> AssistClient:
    client: AssistClient = request.app.state.assist
    return client


def assist_tenant(principal: CurrentPrincipal) -> str:
    """Composers hold either kind of token: the one that reads verdicts or the one that posts."""
    if not {"read", "ingest"} & principal.scopes:
        raise ApiError(403, "insufficient_scope", "this needs the 'read' or 'ingest' scope")
    return principal.tenant


AssistTenant = Annotated[str, Depends(assist_tenant)]
AssistDep = Annotated[AssistClient, Depends(assist_client)]

_EXAMPLE_REQUEST: dict[str, Any] = {
    "text": "shut up, you are an idiot",
    "context": ["I think the referee got that call right."],
    "rewrite": "fast",
}
_EXAMPLE_RESPONSE: dict[str, Any] = {
    "toxic": 0.97,
    "labels": {"toxic": 0.97, "identity_hate": 0.12},
    "decision": "reject",
    "lang": "en",
    "spans": [[0, 7], [19, 24]],
    "rewrite": {"text": "please stop, you are wrong", "toxic": 0.08, "source": "offline",
                "note": None},
    "context": {"items": 1, "toxic_alone": 0.97, "toxic_in_context": None, "raised": False},
    "advice": "This may come across as hostile; a gentler wording is suggested.",
    "model_version": "linear-v2:5b8081195fcc",
    "policy_version": "threshold-v1:0.2/0.8",
    "elapsed_ms": 9.4,
}  # fmt: skip


@router.post(
    "/assist",
    response_model=AssistResponse,
    responses=responses(401, 403, 422, 429, 503),
    summary="Score a draft as the user types: spans, decision, rewrite, context advice",
    description="Needs the `read` or `ingest` scope. The decision follows the caller's tenant "
    "policy. Fast enough for keystrokes with `rewrite: fast` (the offline rewriter); `best` "
    "asks the configured OpenAI-compatible endpoint and is meant for an explicit request. "
    "Nothing is stored or published: report what the user did with `activity` events. "
    "`503 assist_unavailable` when the assist service is not running.",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"examples": {"reply": {"value": _EXAMPLE_REQUEST}}}}
        },
        "responses": {"200": {"content": {"application/json": {"example": _EXAMPLE_RESPONSE}}}},
    },
)
async def assist(body: AssistRequest, tenant: AssistTenant, client: AssistDep) -> AssistResponse:
    return await client.ask(AssistQuery(tenant=tenant, **body.model_dump()))
