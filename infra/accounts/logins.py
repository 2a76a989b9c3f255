"""Login tokens (PyJWT, HS256 pinned, expiry, issuer and audience checked): issued by the API,
verified by the API and the chat gateway. One implementation, here below both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from infra.settings import AccountsSettings

ALGORITHM = "HS256"  # the only one accepted when decoding: no `none`, no key confusion


def issue_jwt(
    settings: AccountsSettings, *, user_id: int, tenant: str, role: str
) -> tuple[str, int]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "tid": tenant,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=settings.jwt_lifetime),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, settings.jwt_lifetime


def decode_jwt(settings: AccountsSettings, token: str) -> dict[str, Any]:
    """The claims of a valid login token; raises `jwt.InvalidTokenError` otherwise."""
    claims: dict[str, Any] = jwt.decode(
        token,
        settings.secret_key.get_secret_value(),
        algorithms=[ALGORITHM],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        leeway=5,
    )
    return claims
