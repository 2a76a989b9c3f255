"""Sign in (email and password, through the login route's own logic: the same rate limit,
lockout and audit entries) and sign out (the login token revoked, audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.accounts import service
from api.console import session
from api.console.web import CallerDep, FormDep, form_of, local, redirect, render
from api.deps import StateDep, context
from api.errors import ApiError
from api.routes import auth
from infra.errors import Refused

router = APIRouter(prefix=session.PATH, include_in_schema=False)


def _login_page(
    request: Request, nxt: str, csrf: str, error: str = "", email: str = ""
) -> Response:
    response = render(request, "login.html", None, next=nxt, csrf=csrf, error=error, email=email)
    response.status_code = 401 if error else 200
    return response


@router.get("/login")
def login_form(
    request: Request, state: StateDep, next: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    csrf = session.login_csrf(request)
    response = _login_page(request, local(next), csrf)
    session.set_login_csrf(response, state.settings, csrf)
    return response


@router.post("/login")
async def login(request: Request, state: StateDep) -> Response:
    form = await form_of(request)
    nxt, email = local(form.get("next")), form.get("email", "")
    csrf = session.login_csrf(request)
    if not session.login_csrf_ok(request, form.get(session.CSRF_FIELD, "")):
        response = _login_page(request, nxt, csrf, "The form expired: please sign in again.")
        session.set_login_csrf(response, state.settings, csrf)
        return response
    try:
        body = auth.Credentials(email=email, password=form.get("password", ""))
        token = await auth.login(body, request, state, context(request))
    except (ApiError, Refused) as exc:
        return _login_page(request, nxt, csrf, exc.message, email)
    except ValidationError:
        return _login_page(request, nxt, csrf, "Enter an email and a password.", email)
    response = redirect(nxt, state)
    session.set_session(response, state.settings, token.access_token, token.expires_in)
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path=session.PATH)
    return response


@router.post("/logout")
def logout(request: Request, caller: CallerDep, form: FormDep) -> Response:
    """Revoke the session's login token server-side (a copied cookie dies with it), then clear
    the cookie."""
    state = caller.state
    with state.accounts.session() as db:
        service.sign_out(
            db, state.settings.accounts, session.session_token(request) or "", caller.principal,
            caller.ctx,
        )  # fmt: skip
    response = redirect(f"{session.PATH}/login", state, ok="Signed out.")
    session.clear_session(response, caller.state.settings)
    return response
