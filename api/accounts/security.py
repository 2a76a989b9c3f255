"""The cryptographic pieces, all from libraries: Argon2id password hashes (argon2-cffi), login
JWTs (PyJWT, HS256 pinned, with expiry, issuer and audience checked), and random API tokens
and invitation codes stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infra.settings import Settings

ALGORITHM = "HS256"  # the only one accepted when decoding: no `none`, no key confusion
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"ingest", "read", "moderate", "admin"}),
    "moderator": frozenset({"ingest", "read", "moderate"}),
    "member": frozenset({"read"}),
}
INVITE_PREFIX = "inv_"

_hasher = PasswordHasher()  # RFC 9106 "low memory" profile: Argon2id, t=3, m=64 MiB, p=4


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Verified against when the email is unknown, so both answers take the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


def issue_jwt(settings: Settings, *, user_id: int, tenant: str, role: str) -> tuple[str, int]:
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


def decode_jwt(settings: Settings, token: str) -> dict[str, Any]:
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


def new_secret(prefix: str) -> str:
    """A random credential with a recognisable prefix: 256 bits after the prefix."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """How tokens and invitation codes are stored: high-entropy secrets need no slow KDF."""
    return hashlib.sha256(secret.encode()).hexdigest()
