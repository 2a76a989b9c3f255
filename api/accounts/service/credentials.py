"""Who is calling: the principal behind a bearer credential, an API token or a login JWT. The
one place that decides the tenant a request acts for."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts import security
from api.accounts.service.principal import Principal
from infra.accounts.models import ApiToken, RevokedLogin, Tenant, User
from infra.errors import InvalidToken
from infra.settings import AccountsSettings


def resolve(session: Session, settings: AccountsSettings, credential: str) -> Principal:
    """The principal behind `credential`; `InvalidToken` if it is not (or no longer) valid."""
    if credential.startswith(settings.token_prefix):
        return _of_token(session, credential)
    return _of_login(session, settings, credential)


def _of_token(session: Session, credential: str) -> Principal:
    now = datetime.now(UTC)
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == security.digest(credential))
    )
    if token is None:
        raise _invalid("this API token is not valid")
    if token.revoked_at is not None:
        raise _invalid("this API token has been revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise _invalid("this API token has expired")
    tenant = session.get(Tenant, token.tenant_id)
    user = session.get(User, token.user_id) if token.user_id is not None else None
    if tenant is None or (token.user_id is not None and (user is None or not user.active)):
        raise _invalid("the owner of this API token is disabled")
    return Principal(  # its last use is recorded by the meter (api/accounts/meter.py)
        tenant=tenant.name,
        tenant_id=tenant.id,
        scopes=token.scope_set,
        user_id=token.user_id,
        email=user.email if user else None,
        role=user.role if user else None,
        token_id=token.id,
    )


def _of_login(session: Session, settings: AccountsSettings, credential: str) -> Principal:
    try:
        claims = security.decode_jwt(settings, credential)
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("the login token has expired: sign in again") from exc
    except jwt.InvalidTokenError as exc:
        raise _invalid("the credential is neither a valid API token nor a login token") from exc
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:  # every token issued here has one: it can be revoked
        raise _invalid("the login token has no id: sign in again")
    if session.get(RevokedLogin, jti) is not None:
        raise _invalid("this login token was signed out: sign in again")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise _invalid("the login token names no user") from exc
    found = session.get(User, user_id)
    tenant = session.get(Tenant, found.tenant_id) if found else None
    if found is None or tenant is None or not found.active or claims.get("tid") != tenant.name:
        raise _invalid("the account behind this login token is gone or disabled")
    return Principal(
        tenant=tenant.name,
        tenant_id=tenant.id,
        scopes=security.ROLE_SCOPES[found.role],
        user_id=found.id,
        email=found.email,
        role=found.role,
    )


def _invalid(message: str) -> InvalidToken:
    return InvalidToken("invalid_token", message)
