"""OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256), as X implements it: the pieces
that need no network. The exchange and refresh are HTTP calls (`infra/x/client.py`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from infra.settings import XSettings

SCOPES = ("tweet.read", "users.read", "follows.read", "offline.access")
"""What the poller needs: read tweets and the user, and `offline.access` for a refresh token."""


def new_verifier() -> str:
    """A code verifier: 64 url-safe characters (RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(48)


def challenge_of(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """The `state` parameter: unguessable, it binds the callback to the tenant that asked."""
    return secrets.token_urlsafe(32)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def authorization_url(settings: XSettings, redirect_uri: str, state: str, verifier: str) -> str:
    """Where the operator approves; X sends the browser back to `redirect_uri`."""
    assert settings.client_id is not None
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{settings.authorize_url}?{query}"
