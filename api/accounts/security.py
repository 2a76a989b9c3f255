"""The cryptographic pieces, all from libraries: Argon2id password hashes (argon2-cffi), login
JWTs (PyJWT, HS256 pinned, with expiry, issuer and audience checked), and random API tokens
and invitation codes stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Login JWTs live in infra (the chat gateway verifies them too); re-exported for the API.
from infra.accounts.logins import ALGORITHM as ALGORITHM
from infra.accounts.logins import decode_jwt as decode_jwt
from infra.accounts.logins import issue_jwt as issue_jwt

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"ingest", "read", "moderate", "admin", "private"}),
    "moderator": frozenset({"ingest", "read", "moderate"}),
    # Reviews only in the queues an admin granted (`api/review/grants.py`).
    "reviewer": frozenset({"read", "review"}),
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


def new_secret(prefix: str) -> str:
    """A random credential with a recognisable prefix: 256 bits after the prefix."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """How tokens and invitation codes are stored: high-entropy secrets need no slow KDF."""
    return hashlib.sha256(secret.encode()).hexdigest()
