"""X/Twitter accounts: connect one with OAuth 2.0 PKCE, list and disconnect them, and preview
(poll one now and summarise the verdicts). The poller (`modstream x-poll`) does the rest.

The callback is the one route here without a bearer credential: the browser arrives from X
with only `code` and `state`. The state (single use, ten minutes, stored as a SHA-256) is what
binds it to the tenant and the admin who started the connection.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.accounts import service
from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import ApiError, responses
from api.rollups import HARMFUL
from api.state import AppState
from infra.accounts.models import XAccount
from infra.settings import Settings
from infra.warehouse import Warehouse
from infra.x import TokenCipher, XAccounts, XAuthError, XClient, XError, XPoll, XRateLimited
from infra.x.oauth import authorization_url, new_state, new_verifier, state_hash
from infra.x.poll import encrypt_tokens

router = APIRouter(prefix="/v1/x", tags=["x"])

STATE_TTL = 600.0
"""Seconds an operator has to approve at X."""
MAX_PREVIEW_WAIT = 30.0

AccountId = Annotated[int, Path(ge=1, le=2**62, description="The connected account's id here.")]


def x_settings(state: StateDep) -> Settings:
    """The settings these routes use: a dependency, so a test can point them at a fake X."""
    return state.settings


XSettings = Annotated[Settings, Depends(x_settings)]


def _configured(settings: Settings) -> None:
    if not settings.x.client_id:
        raise ApiError(
            409, "x_not_configured",
            "X ingestion is not configured on this server (MODSTREAM_X_CLIENT_ID)",
        )  # fmt: skip


class ConnectStarted(BaseModel):
    authorization_url: str = Field(description="Open it in a browser and approve at X.")
    expires_at: datetime = Field(description="The authorization must finish before this.")


class XAccountPublic(BaseModel):
    id: int
    x_user_id: str
    username: str
    status: str = Field(description="`active`, or `reauthorize`: X refused its tokens.")
    scopes: list[str]
    connected_by: str
    connected_at: datetime
    token_expires_at: datetime
    since_id: str | None = Field(description="The newest tweet published (the checkpoint).")
    published: int = Field(description="Posts published from this account in total.")
    last_poll_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None = Field(description="Backing off after errors until then.")
    rate_limited_until: datetime | None = Field(description="X's rate limit is spent until then.")


class XAccountsPublic(BaseModel):
    data: list[XAccountPublic]
    count: int


class PreviewRequest(BaseModel):
    wait: float = Field(
        default=10.0, ge=0, le=MAX_PREVIEW_WAIT, description="Seconds to wait for verdicts."
    )


class LabelCount(BaseModel):
    label: str
    items: int = Field(description=f"Judged items scoring at least {HARMFUL} on the label.")


class PreviewSummary(BaseModel):
    account_id: int
    fetched: int = Field(description="Tweets X returned since the checkpoint.")
    new: int = Field(description="Of those, published now as posts (not seen before).")
    pages: int
    truncated: bool = Field(description="More pages than MODSTREAM_X_MAX_PAGES: older skipped.")
    judged: int = Field(description="New posts whose verdict arrived within `wait`.")
    pending: int = Field(description="New posts still being judged when `wait` ran out.")
    decisions: dict[str, int]
    top_labels: list[LabelCount]
    event_ids: list[str] = Field(description="Look them up at /v1/verdicts/{event_id}.")


EXAMPLE_ACCOUNT: dict[str, Any] = {
    "id": 1,
    "x_user_id": "1849000000000000001",
    "username": "acme_moderation",
    "status": "active",
    "scopes": ["follows.read", "offline.access", "tweet.read", "users.read"],
    "connected_by": "user:admin@acme.example",
    "connected_at": "2026-11-21T09:30:00Z",
    "token_expires_at": "2026-11-21T11:30:00Z",
    "since_id": "1850000000000004711",
    "published": 412,
    "last_poll_at": "2026-11-21T10:41:00Z",
    "last_error": None,
    "next_poll_at": None,
    "rate_limited_until": None,
}
EXAMPLE_SUMMARY: dict[str, Any] = {
    "account_id": 1,
    "fetched": 3,
    "new": 3,
    "pages": 1,
    "truncated": False,
    "judged": 3,
    "pending": 0,
    "decisions": {"approve": 2, "reject": 1},
    "top_labels": [{"label": "toxic", "items": 1}, {"label": "insult", "items": 1}],
    "event_ids": ["x-1850000000000004712", "x-1850000000000004790", "x-1850000000000004801"],
}


def _example(value: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


def _public(account: XAccount) -> XAccountPublic:
    return XAccountPublic(
        id=account.id,
        x_user_id=account.x_user_id,
        username=account.username,
        status=account.status,
        scopes=sorted(account.scopes.split()),
        connected_by=account.connected_by,
        connected_at=account.connected_at,
        token_expires_at=account.expires_at,
        since_id=str(account.since_id) if account.since_id is not None else None,
        published=account.published,
        last_poll_at=account.last_poll_at,
        last_error=account.last_error,
        next_poll_at=account.next_poll_at,
        rate_limited_until=account.rate_limited_until,
    )


def _audit(
    state: AppState, ctx: service.Context, tenant: str, actor: str, action: str, target: str,
    *, outcome: str = "ok", detail: str | None = None,
) -> None:  # fmt: skip
    with state.accounts.session() as session:
        service.audit(
            session, ctx, tenant, actor, action, target=target, outcome=outcome, detail=detail
        )


@router.post(
    "/connect",
    response_model=ConnectStarted,
    responses=responses(401, 403, 409, 429, 503)
    | _example(
        {
            "authorization_url": "https://x.com/i/oauth2/authorize?response_type=code&client_id="
            "…&redirect_uri=…%2Fv1%2Fx%2Fcallback&scope=tweet.read+users.read+follows.read+"
            "offline.access&state=…&code_challenge=…&code_challenge_method=S256",
            "expires_at": "2026-11-21T09:40:00Z",
        }
    ),
    summary="Start connecting an X account (tenant admins)",
    description="Returns X's authorization URL (OAuth 2.0 with PKCE, S256). Open it as the X "
    "user whose home timeline should be moderated and approve; X then sends the browser to "
    "`GET /v1/x/callback`, which stores the account. 409 `x_not_configured` if this server "
    "has no X app (MODSTREAM_X_CLIENT_ID).",
)
def start_connect(principal: TenantAdmin, state: StateDep, settings: XSettings) -> ConnectStarted:
    _configured(settings)
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    verifier, oauth_state = new_verifier(), new_state()
    XAccounts(state.accounts).add_state(
        state_hash(oauth_state), principal.tenant, cipher.encrypt(verifier), principal.actor,
        STATE_TTL,
    )  # fmt: skip
    return ConnectStarted(
        authorization_url=authorization_url(
            settings.x, settings.x_callback_url, oauth_state, verifier
        ),
        expires_at=datetime.now(UTC) + timedelta(seconds=STATE_TTL),
    )


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
        account = await _connect(state, settings, ctx, oauth_state, code, error)
    except ApiError as exc:
        if back is None:
            raise
        return _redirect(back, x_error=exc.code)
    if back is None:
        return _public(account)
    return _redirect(back, x_account=str(account.id), x_username=account.username)


def _redirect(url: str, **params: str) -> RedirectResponse:
    """`url` with `params` added to its query (an operator's fixed page: not an open redirect)."""
    parts = urlsplit(url)
    query = urlencode(parse_qsl(parts.query) + list(params.items()))
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status.HTTP_303_SEE_OTHER)


async def _connect(
    state: AppState,
    settings: Settings,
    ctx: service.Context,
    oauth_state: str,
    code: str | None,
    error: str | None,
) -> XAccount:
    store = XAccounts(state.accounts)
    pending = await run_in_threadpool(store.take_state, state_hash(oauth_state))
    if pending is None:
        raise ApiError(400, "invalid_state", "unknown or already used state: connect again")
    if pending.expired:
        raise ApiError(400, "state_expired", "the authorization took too long: connect again")
    if error:
        await run_in_threadpool(
            _audit, state, ctx, pending.tenant, pending.actor, "x.connect", "x:?",
            outcome="refused", detail=service.audit_json(error=error),
        )  # fmt: skip
        raise ApiError(400, "x_authorization_denied", f"X did not authorize: {error}")
    if not code:
        raise ApiError(400, "missing_code", "X sent neither a code nor an error")
    _configured(settings)
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    try:
        async with XClient(settings.x) as client:
            verifier = cipher.decrypt(pending.verifier)
            tokens = await client.exchange_code(code, verifier, settings.x_callback_url)
            user = await client.me(tokens.access_token)
    except XAuthError as exc:
        raise ApiError(400, "x_code_refused", str(exc)) from exc
    except XError as exc:
        raise ApiError(502, "x_unavailable", f"X did not answer as expected: {exc}") from exc
    account, created = await run_in_threadpool(
        XAccounts(state.accounts).connect, pending.tenant, user, encrypt_tokens(cipher, tokens),
        pending.actor,
    )  # fmt: skip
    await run_in_threadpool(
        _audit, state, ctx, pending.tenant, pending.actor, "x.connect", f"x:{user.id}",
        detail=service.audit_json(username=user.username, account_id=account.id, new=created),
    )  # fmt: skip
    return account


@router.get(
    "/accounts",
    response_model=XAccountsPublic,
    responses=responses(401, 403, 429, 503) | _example({"data": [EXAMPLE_ACCOUNT], "count": 1}),
    summary="Your tenant's connected X accounts, with their poll status",
)
def list_accounts(principal: Reader, state: StateDep) -> XAccountsPublic:
    accounts = [_public(a) for a in XAccounts(state.accounts).of_tenant(principal.tenant)]
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
    account = await run_in_threadpool(
        XAccounts(state.accounts).remove, account_id, principal.tenant
    )
    if account is None:
        raise ApiError(404, "not_found", f"no X account {account_id}")
    revoked = settings.x.client_id is not None and await _revoke(settings, account)
    await run_in_threadpool(
        _audit, state, ctx, principal.tenant, principal.actor, "x.disconnect",
        f"x:{account.x_user_id}",
        detail=service.audit_json(username=account.username, revoked_at_x=revoked),
    )  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _revoke(settings: Settings, account: XAccount) -> bool:
    """Best effort: revoke the refresh token (which ends the grant) and the access token."""
    try:
        cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
        async with XClient(settings.x) as client:
            if account.refresh_token:
                await client.revoke(cipher.decrypt(account.refresh_token), "refresh_token")
            await client.revoke(cipher.decrypt(account.access_token), "access_token")
    except XError:
        return False
    return True


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
    store = XAccounts(state.accounts)
    account = await run_in_threadpool(store.get, account_id, principal.tenant)
    if account is None:
        raise ApiError(404, "not_found", f"no X account {account_id}")
    _configured(settings)
    if account.status != "active":
        raise ApiError(409, "x_reauthorize", "X refused this account's tokens: connect it again")
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    try:
        async with XClient(settings.x) as client:
            poll = XPoll(settings.x, store, client, state.publisher, cipher)
            result = await poll.poll(account_id, max_wait=0)
    except XRateLimited as exc:
        retry = max(1, int(exc.retry_at - time.time()) + 1)
        raise ApiError(
            429, "x_rate_limited", f"X's rate limit is spent; try again in {retry}s",
            headers={"Retry-After": str(retry)},
        ) from exc  # fmt: skip
    except XAuthError as exc:
        raise ApiError(409, "x_reauthorize", f"{exc}: connect the account again") from exc
    except XError as exc:
        raise ApiError(502, "x_unavailable", f"X did not answer as expected: {exc}") from exc
    verdicts = await _wait_for_verdicts(state.warehouse, principal.tenant, result.event_ids, wait)
    labels: Counter[str] = Counter(
        label for v in verdicts for label, score in v["scores"].items() if score >= HARMFUL
    )
    summary = PreviewSummary(
        account_id=account_id,
        fetched=result.fetched,
        new=result.new,
        pages=result.pages,
        truncated=result.truncated,
        judged=len(verdicts),
        pending=result.new - len(verdicts),
        decisions=dict(Counter(v["decision"] for v in verdicts)),
        top_labels=[LabelCount(label=k, items=n) for k, n in labels.most_common(10)],
        event_ids=result.event_ids,
    )
    await run_in_threadpool(
        _audit, state, ctx, principal.tenant, principal.actor, "x.preview",
        f"x:{account.x_user_id}",
        detail=service.audit_json(fetched=summary.fetched, new=summary.new, judged=summary.judged),
    )  # fmt: skip
    return summary


async def _wait_for_verdicts(
    warehouse: Warehouse, tenant: str, event_ids: list[str], wait: float
) -> list[dict[str, Any]]:
    """The verdicts of `event_ids` in the warehouse, polled until all are there or `wait` ends."""
    deadline = time.monotonic() + wait
    found: list[dict[str, Any]] = []
    while event_ids:
        found = await run_in_threadpool(
            warehouse.rows,
            "SELECT event_id, decision, scores FROM verdicts FINAL "
            "WHERE tenant = {tenant:String} AND event_id IN {ids:Array(String)}",
            {"tenant": tenant, "ids": event_ids},
        )
        if len(found) >= len(event_ids) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.25)
    return found
