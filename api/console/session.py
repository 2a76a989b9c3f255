"""The console's sign-in session and its CSRF tokens.

The session cookie carries a login token (the same HS256 JWT as `POST /v1/auth/login` issues,
signed with `MODSTREAM_SECRET_KEY`, with expiry, issuer and audience), so the console resolves
its caller through `api.deps.principal_for` like any other client: one place decides who is
calling. The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site sends it)
and Secure outside development.

Every form POST carries a CSRF token besides: while signed in, an HMAC of the session token
under the secret key (a form from another origin cannot know it); on the sign-in form, before
there is a session, a random value that must match a cookie of its own (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from infra.settings import Settings

SESSION_COOKIE = "modstream_console"
LOGIN_CSRF_COOKIE = "modstream_console_csrf"
PATH = "/console"
CSRF_FIELD = "csrf"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def _secure(settings: Settings) -> bool:
    return settings.env != "development"


def set_session(response: Response, settings: Settings, token: str, lifetime: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=lifetime, path=PATH, httponly=True,
        samesite="strict", secure=_secure(settings),
    )  # fmt: skip


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=PATH, httponly=True, samesite="strict", secure=_secure(settings)
    )


def csrf_for(settings: Settings, session: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of the session token under the secret key."""
    key = settings.accounts.secret_key.get_secret_value().encode()
    return hmac.new(key, b"console-csrf:" + session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, session: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(csrf_for(settings, session), given)


def login_csrf(request: Request) -> str:
    """The sign-in form's token: the one its cookie holds already, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE, value, max_age=3600, path=PATH, httponly=True, samesite="strict",
        secure=_secure(settings),
    )  # fmt: skip


def login_csrf_ok(request: Request, given: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)
