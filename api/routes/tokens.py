"""API tokens for upstream apps and services: created (shown once), listed, revoked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, Field

from api.accounts import service
from api.accounts.service import Principal
from api.deps import ContextDep, CurrentPrincipal, StateDep
from api.errors import ApiError, responses
from api.read.where import DateTimeString
from infra.accounts.models import ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])

Scope = Literal["ingest", "read", "moderate", "review", "admin", "private"]


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["chat-gateway"])
    scopes: list[Scope] = Field(min_length=1, examples=[["ingest", "read"]])
    expires_at: DateTimeString | None = Field(default=None, description="Never, if unset.")


class TokenPublic(BaseModel):
    id: int
    name: str
    hint: str = Field(description="The prefix and first characters, to recognise it.")
    scopes: list[str]
    user_id: int | None = Field(description="The owner; null for tokens made by the CLI.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown this once: only its hash is stored.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


def _public(token: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        hint=token.hint,
        scopes=sorted(token.scope_set),
        user_id=token.user_id,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def token_manager(principal: CurrentPrincipal) -> Principal:
    """Tokens are managed by signed-in users, or by a token with the `admin` scope: a leaked
    ordinary token cannot mint siblings that would outlive its revocation."""
    if not principal.is_session and "admin" not in principal.scopes:
        raise ApiError(403, "insufficient_scope", "sign in, or use a token with 'admin' scope")
    return principal


Manager = Annotated[Principal, Depends(token_manager)]


def owned_token(
    token_id: Annotated[int, Path(ge=1, le=2**62)], principal: Manager, state: StateDep
) -> ApiToken:
    """The token, if the caller may manage it (`service.owned_token`), else a 404."""
    with state.accounts.session() as session:
        return service.owned_token(session, principal, token_id)


OwnedToken = Annotated[ApiToken, Depends(owned_token)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses=responses(401, 403, 422, 429, 503),
    summary="Create an API token (the secret is shown once)",
    description="Scopes: `ingest` (POST events and media), `read` (results, analytics, feed), "
    "`moderate` (bank imports, status changes, every review queue), `review` (only the review "
    "queues granted with `PUT /v1/review/grants/token:<id>`), `admin` (invites, tokens of "
    "others, audit, privacy mode), `private` (chat messages). A token gets at most the scopes "
    "of whoever creates it.",
)
def create_token(
    body: TokenCreate, principal: Manager, state: StateDep, ctx: ContextDep
) -> TokenCreated:
    wanted = frozenset(body.scopes)
    held = principal.scopes | ({"review"} if "moderate" in principal.scopes else set())
    if not wanted <= held:  # `moderate` reviews every queue, so it may grant `review`
        extra = ", ".join(sorted(wanted - held))
        raise ApiError(403, "insufficient_scope", f"you cannot grant scopes you lack: {extra}")
    with state.accounts.session() as session:
        token, secret = service.create_token(
            session,
            state.settings.accounts,
            service.tenant_of(session, principal),
            name=body.name,
            scopes=wanted,
            user_id=principal.user_id,
            expires_at=body.expires_at,
            actor=principal.actor,
            ctx=ctx,
        )
        return TokenCreated(**_public(token).model_dump(), token=secret)


@router.get(
    "",
    response_model=TokensPublic,
    responses=responses(401, 403, 429, 503),
    summary="Your tokens (a tenant admin sees every token of the tenant)",
)
def list_tokens(principal: Manager, state: StateDep) -> TokensPublic:
    state.meter.flush()  # last-used times are written in batches: this process's first
    with state.accounts.session() as session:
        tokens = [_public(t) for t in service.tokens_of(session, principal)]
    return TokensPublic(data=tokens, count=len(tokens))


@router.delete(
    "/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 429, 503),
    summary="Revoke a token: it stops working at once",
)
def revoke_token(
    token: OwnedToken, principal: Manager, state: StateDep, ctx: ContextDep
) -> Response:
    with state.accounts.session() as session:
        found = session.get(ApiToken, token.id)
        assert found is not None
        service.revoke_token(session, found, principal.tenant, principal.actor, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
