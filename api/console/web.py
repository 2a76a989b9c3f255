"""What every console page shares: the templates, the signed-in caller, form posts checked for
their CSRF token, one-shot notices, and the headers that keep pages to their own origin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from api.accounts.service import Context, Principal
from api.console import session
from api.console.markup import age, clock, score_class, sla_left
from api.deps import StateDep, check_tenant_read, context, principal_for
from api.errors import ApiError
from api.review.grants import Access
from api.state import AppState
from infra.errors import Forbidden, Refused, Unauthenticated

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.filters["age"] = age
TEMPLATES.env.filters["score_class"] = score_class
TEMPLATES.env.filters["clock"] = clock
TEMPLATES.env.globals["sla_left"] = sla_left

FLASH_COOKIE = "modstream_console_flash"
MAX_FORM = 64 * 1024
HEADERS = {
    # Everything from this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class SignInRequired(Unauthenticated):
    """No valid session: a page answers with the sign-in page, not the API's 401."""

    def __init__(self) -> None:
        super().__init__("sign_in", "sign in to the console first")


class CsrfFailed(Forbidden):
    """A form post without the session's CSRF token."""

    def __init__(self) -> None:
        super().__init__("csrf", "The form expired or came from elsewhere: reload the page.")


class NotAllowed(Forbidden):
    """Signed in, but without the scope a page needs."""

    def __init__(self, message: str) -> None:
        super().__init__("insufficient_scope", message)


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in moderator of this request, the process state, and the form token."""

    principal: Principal
    state: AppState
    csrf: str
    ctx: Context

    @property
    def access(self) -> Access:
        """The review routes' caller: the console's pages need `moderate`, every queue."""
        return Access(self.principal, None)


def signed_in(request: Request, state: StateDep) -> Caller:
    token = session.session_token(request)
    if token is None:
        raise SignInRequired
    try:
        principal = principal_for(state, token)
    except Refused as exc:
        raise SignInRequired from exc
    if not principal.is_session:  # only a password sign-in, never an API token, makes a session
        raise SignInRequired
    return Caller(principal, state, session.csrf_for(state.settings, token), context(request))


CallerDep = Annotated[Caller, Depends(signed_in)]


def moderator(caller: CallerDep) -> Caller:
    if "moderate" not in caller.principal.scopes:
        raise NotAllowed("The review pages need the moderator or admin role.")
    return caller


ModeratorDep = Annotated[Caller, Depends(moderator)]


def tenant_reader(caller: CallerDep) -> Caller:
    """A page that reads across the tenant (analytics, the live feed, an author's history), as
    the API allows it: the `read` scope, and not a reviewer limited to granted queues."""
    try:
        check_tenant_read(caller.principal)
    except ApiError as exc:
        raise NotAllowed(exc.message) from exc
    return caller


TenantReaderDep = Annotated[Caller, Depends(tenant_reader)]


async def form_of(request: Request) -> dict[str, str]:
    """An url-encoded form body (the console's forms post nothing else)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def posted(request: Request, caller: CallerDep) -> dict[str, str]:
    """The form of a signed-in POST, once its CSRF token checks out."""
    form = await form_of(request)
    token = session.session_token(request) or ""
    if not session.csrf_ok(caller.state.settings, token, form.get(session.CSRF_FIELD, "")):
        raise CsrfFailed
    return form


FormDep = Annotated[dict[str, str], Depends(posted)]


def render(request: Request, template: str, caller: Caller | None, **context: Any) -> Response:
    flash = request.cookies.get(FLASH_COOKIE)
    response = TEMPLATES.TemplateResponse(
        request, template,
        {"caller": caller, "flash": _flash_text(flash), "now": datetime.now(UTC), **context},
        headers=HEADERS,
    )  # fmt: skip
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=session.PATH)
    return response


def _flash_text(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    kind, _, text = unquote(value).partition(":")
    return (kind, text) if kind in ("ok", "error") else None


def redirect(url: str, state: AppState, *, ok: str = "", error: str = "") -> Response:
    """303 to `url`, with a one-shot notice for the page it lands on."""
    response = RedirectResponse(url, status_code=303, headers=HEADERS)
    text = f"ok:{ok}" if ok else f"error:{error}" if error else ""
    if text:
        response.set_cookie(
            FLASH_COOKIE, quote(text[:300], safe=""), path=session.PATH, httponly=True,
            samesite="strict", secure=state.settings.env != "development",
        )  # fmt: skip
    return response


def local(url: str | None, default: str = session.PATH) -> str:
    """A redirect target within the console only (no open redirect)."""
    if url and url.startswith(session.PATH) and not url.startswith("//") and "\\" not in url:
        return url
    return default


def sign_in_page(request: Request) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"{session.PATH}/login?next={target}", status_code=303)


def refused_page(request: Request, message: str, status: int = 403) -> Response:
    response = render(request, "refused.html", None, message=message)
    response.status_code = status
    return response
