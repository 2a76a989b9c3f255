"""X/Twitter accounts: connect one with OAuth 2.0 PKCE, list and disconnect them, and preview
(poll one now and summarise the verdicts). The poller (`modstream x-poll`) does the rest; the
work is in `api/x/`.

The callback is the one route here without a bearer credential: the browser arrives from X
with only `code` and `state`, and the state is what authorizes it (`api/x/connect.py`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import RedirectResponse

from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import responses
from api.x import connect
from api.x.models import (
    EXAMPLE_ACCOUNT,
    EXAMPLE_CONNECT,
    EXAMPLE_SUMMARY,
    ConnectStarted,
    PreviewRequest,
    PreviewSummary,
    XAccountPublic,
    XAccountsPublic,
)
from api.x.preview import preview as run_preview
from infra.errors import Refused
from infra.settings import Settings
from infra.x import XAccounts

router = APIRouter(prefix="/v1/x", tags=["x"])

AccountId = Annotated[int, Path(ge=1, le=2**62, description="The connected account's id here.")]


def x_settings(state: StateDep) -> Settings:
    """The settings these routes use: a dependency, so a test can point them at a fake X."""
    return state.settings


XSettings = Annotated[Settings, Depends(x_settings)]


def _example(value: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


@router.post(
    "/connect",
    response_model=ConnectStarted,
    responses=responses(401, 403, 409, 429, 503) | _example(EXAMPLE_CONNECT),
    summary="Start connecting an X account (tenant admins)",
    description="Returns X's authorization URL (OAuth 2.0 with PKCE, S256). Open it as the X "
    "user whose home timeline should be moderated and approve; X then sends the browser to "
    "`GET /v1/x/callback`, which stores the account. 409 `x_not_configured` if this server "
    "has no X app (MODSTREAM_X_CLIENT_ID).",
)
def start_connect(principal: TenantAdmin, state: StateDep, settings: XSettings) -> ConnectStarted:
    url, expires_at = connect.start(state.accounts, settings, principal.tenant, principal.actor)
    return ConnectStarted(authorization_url=url, expires_at=expires_at)


@router.get(
    "/callback",
    response_model=XAccountPublic,
    responses=responses(400, 409, 422, 502, 503)
    | _example(EXAMPLE_ACCOUNT)
    | {303: {"description": "With MODSTREAM_X_CONNECTED_URL: to that page, with the outcome."}},
    summary="Where X sends the browser back (no bearer token: the state authorizes it)",
    description="Checks the state (known, unused, not expired; it is used up either way), "
    "exchanges the code with the PKCE verifier, reads the X user and stores the account with "
    "its tokens encrypted. Connecting an account again replaces its tokens and keeps its "
    "checkpoint. Refusals: 400 `invalid_state`, `state_expired`, `x_authorization_denied` "
    "(the user declined), `missing_code`, `x_code_refused`; 502 `x_unavailable`. With "
    "MODSTREAM_X_CONNECTED_URL set, the browser is sent there instead (303): with `x_account` "
    "and `x_username` when connected, `x_error` (the code above) when refused.",
)
async def callback(
    state: StateDep,
    settings: XSettings,
    ctx: ContextDep,
    oauth_state: Annotated[str, Query(alias="state", min_length=1, max_length=256)],
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> XAccountPublic | RedirectResponse:
    back = settings.x.connected_url
    try:
        account = await connect.finish(state.accounts, settings, ctx, oauth_state, code, error)
    except Refused as exc:
        if back is None:
            raise
        return _redirect(back, x_error=exc.code)
    if back is None:
        return XAccountPublic.of(account)
    return _redirect(back, x_account=str(account.id), x_username=account.username)


def _redirect(url: str, **params: str) -> RedirectResponse:
    """`url` with `params` added to its query (an operator's fixed page: not an open redirect)."""
    parts = urlsplit(url)
    query = urlencode(parse_qsl(parts.query) + list(params.items()))
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status.HTTP_303_SEE_OTHER)


@router.get(
    "/accounts",
    response_model=XAccountsPublic,
    responses=responses(401, 403, 429, 503) | _example({"data": [EXAMPLE_ACCOUNT], "count": 1}),
    summary="Your tenant's connected X accounts, with their poll status",
)
def list_accounts(principal: Reader, state: StateDep) -> XAccountsPublic:
    accounts = [XAccountPublic.of(a) for a in XAccounts(state.accounts).of_tenant(principal.tenant)]
    return XAccountsPublic(data=accounts, count=len(accounts))


@router.delete(
    "/accounts/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Disconnect an X account (tenant admins)",
    description="Deletes the account and its tokens here and asks X to revoke them (if X "
    "cannot be reached, the tokens are deleted here all the same). Posts already published "
    "stay.",
)
async def disconnect(
    account_id: AccountId,
    principal: TenantAdmin,
    state: StateDep,
    settings: XSettings,
    ctx: ContextDep,
) -> Response:
    await connect.disconnect(
        state.accounts, settings, account_id, principal.tenant, principal.actor, ctx
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/accounts/{account_id}/preview",
    response_model=PreviewSummary,
    responses=responses(401, 403, 404, 409, 422, 429, 502, 503) | _example(EXAMPLE_SUMMARY),
    summary="Poll an X account now and summarise the verdicts (tenant admins)",
    description="Does what the poller does, at once: fetches the home timeline since the "
    "checkpoint, publishes the new tweets as posts (and moves the checkpoint), then waits up "
    "to `wait` seconds for their verdicts. A tweet is published once, whether the poller or a "
    "preview fetched it first: a second preview right after the first finds nothing new. "
    "429 `x_rate_limited` (with `Retry-After`) if X's rate limit is spent; 409 "
    "`x_reauthorize` if X refused the tokens (connect the account again).",
)
async def preview(
    account_id: AccountId,
    principal: TenantAdmin,
    state: StateDep,
    settings: XSettings,
    ctx: ContextDep,
    body: PreviewRequest | None = None,
) -> PreviewSummary:
    wait = (body or PreviewRequest()).wait
    return await run_preview(state, settings, principal, account_id, wait, ctx)
