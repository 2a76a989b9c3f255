"""API tokens: their secret is returned once at creation and never again (only its digest is
kept); the caller's own, or every one of the tenant for a tenant admin."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts import security
from api.accounts.service.audit import audit
from api.accounts.service.principal import Context, Principal
from infra.accounts.models import ApiToken, Tenant
from infra.errors import NotFound
from infra.settings import AccountsSettings


def create_token(  # noqa: PLR0913 - the new token's fields, keyword-only
    session: Session,
    settings: AccountsSettings,
    tenant: Tenant,
    *,
    name: str,
    scopes: frozenset[str],
    user_id: int | None,
    expires_at: datetime | None,
    actor: str,
    ctx: Context,
) -> tuple[ApiToken, str]:
    """A new token and its secret."""
    secret = security.new_secret(settings.token_prefix)
    token = ApiToken(
        tenant_id=tenant.id,
        user_id=user_id,
        name=name,
        token_hash=security.digest(secret),
        hint=secret[: len(settings.token_prefix) + 4],
        scopes=" ".join(sorted(scopes)),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit(
        session,
        ctx,
        tenant.name,
        actor,
        "token.create",
        target=f"token:{token.id}",
        detail=json.dumps({"name": name, "scopes": sorted(scopes)}),
    )
    return token, secret


def revoke_token(session: Session, token: ApiToken, tenant: str, actor: str, ctx: Context) -> None:
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
    audit(session, ctx, tenant, actor, "token.revoke", target=f"token:{token.id}")


def tokens_of(session: Session, principal: Principal) -> list[ApiToken]:
    """The tokens the caller may manage: every one of the tenant for an admin, else their own."""
    query = select(ApiToken).where(ApiToken.tenant_id == principal.tenant_id)
    if "admin" not in principal.scopes:
        query = query.where(ApiToken.user_id == principal.user_id)
    return list(session.scalars(query.order_by(ApiToken.id)))


def owned_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    """The token, if the caller may manage it: its owner, or a tenant admin. Anything else,
    another tenant's token included, is not found (its existence is not the caller's
    business)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.tenant_id != principal.tenant_id or not _may_manage(principal, token):
        raise NotFound("not_found", f"no token {token_id}")
    return token


def _may_manage(principal: Principal, token: ApiToken) -> bool:
    return "admin" in principal.scopes or (
        principal.user_id is not None and token.user_id == principal.user_id
    )
