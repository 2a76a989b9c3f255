"""Registration and login (the only routes besides health that need no credentials), and `me`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.accounts import security, service
from api.deps import ContextDep, CurrentPrincipal, StateDep, bearer
from api.errors import ApiError, responses
from infra.errors import Unauthenticated

router = APIRouter(prefix="/v1/auth", tags=["accounts"])
me_router = APIRouter(prefix="/v1", tags=["accounts"])


class Registration(BaseModel):
    email: str = Field(max_length=254, examples=["ann@example.com"])
    password: str = Field(max_length=1024, description=f"At least {service.MIN_PASSWORD} chars.")
    invite_code: str | None = Field(default=None, max_length=200, description="`inv_…`")
    tenant: str | None = Field(
        default=None,
        pattern=service.TENANT_PATTERN,
        description="Open registration only: the new tenant this user will administer.",
    )


class UserPublic(BaseModel):
    id: int
    email: str
    role: str
    tenant: str


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class LoginToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 type name
    expires_in: int = Field(description="Seconds.")
    tenant: str
    role: str


class Me(BaseModel):
    tenant: str
    scopes: list[str]
    user_id: int | None
    email: str | None
    role: str | None
    token_id: int | None = Field(description="Set when calling with an API token.")


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=responses(400, 403, 409, 422, 503),
    summary="Create an account (with an invitation code, or a new tenant when open)",
    description="Refusals, each with its own `error.code`: `registration_closed` (403), "
    "`invite_required` (400), `invite_invalid` (400), `invite_inactive` (403), "
    "`invite_expired` (403), `invite_used_up` (403), `user_limit_reached` (403), "
    "`email_taken` / `tenant_taken` (409), `invalid_email` / `weak_password` (422).",
)
async def register(body: Registration, state: StateDep, ctx: ContextDep) -> UserPublic:
    email = service.check_credentials(body.email, body.password)
    # The slow hash first, outside the transaction that holds the registration lock.
    password_hash = await run_in_threadpool(security.hash_password, body.password)

    def run() -> UserPublic:
        with state.accounts.session() as session:
            user, tenant = service.register(
                session,
                state.settings.accounts,
                email=email,
                password_hash=password_hash,
                invite_code=body.invite_code,
                tenant_name=body.tenant,
                ctx=ctx,
            )
            return UserPublic(id=user.id, email=user.email, role=user.role, tenant=tenant.name)

    return await run_in_threadpool(run)


@router.post(
    "/login",
    response_model=LoginToken,
    responses=responses(401, 403, 422, 429, 503),
    summary="Exchange an email and password for a short-lived login token (JWT)",
    description="The token (HS256, with issuer, audience and expiry) goes in "
    "`Authorization: Bearer …`. After `MODSTREAM_LOGIN_MAX_FAILURES` wrong passwords in a row "
    "the account is locked for `MODSTREAM_LOGIN_LOCKOUT` seconds (429 `account_locked`); "
    "each client address may try `MODSTREAM_LOGIN_RATE_PER_MINUTE` times a minute (429 "
    "`too_many_logins`). Both carry `Retry-After`.",
)
async def login(
    body: Credentials, request: Request, state: StateDep, ctx: ContextDep
) -> LoginToken:
    wait = state.login_limiter.hit(ctx.client or "?")
    if wait is not None:
        raise ApiError(
            429,
            "too_many_logins",
            f"too many login attempts: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )

    def run() -> service.LoginResult:
        with state.accounts.session() as session:
            return service.login(session, state.settings.accounts, body.email, body.password, ctx)

    result = await run_in_threadpool(run)
    if result.refusal is not None:
        if isinstance(result.refusal, Unauthenticated):
            await asyncio.sleep(0.1)  # blunt online guessing a little more
        raise result.refusal
    assert result.user is not None
    assert result.tenant is not None
    token, lifetime = security.issue_jwt(
        state.settings.accounts,
        user_id=result.user.id,
        tenant=result.tenant,
        role=result.user.role,
    )
    return LoginToken(
        access_token=token, expires_in=lifetime, tenant=result.tenant, role=result.user.role
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 409, 503),
    summary="Sign out: revoke the login token this request carries",
    description="The token is refused from now on (until its expiry, when it would have been "
    "anyway), and the sign-out is audited as `logout`. An API token is not a login: revoke it "
    "with `DELETE /v1/tokens/{token_id}` (409 `not_a_login` here).",
)
async def logout(
    principal: CurrentPrincipal,
    state: StateDep,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    if not principal.is_session or credentials is None:
        raise ApiError(
            409, "not_a_login", "this is an API token: revoke it with DELETE /v1/tokens/{token_id}"
        )

    def run() -> None:
        with state.accounts.session() as session:
            service.sign_out(
                session, state.settings.accounts, credentials.credentials, principal, ctx
            )

    await run_in_threadpool(run)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get(
    "/me",
    response_model=Me,
    responses=responses(401, 429, 503),
    summary="Who the credential belongs to: tenant, scopes, user, token",
)
def me(principal: CurrentPrincipal) -> Me:
    return Me(
        tenant=principal.tenant,
        scopes=sorted(principal.scopes),
        user_id=principal.user_id,
        email=principal.email,
        role=principal.role,
        token_id=principal.token_id,
    )
