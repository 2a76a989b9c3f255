"""API tokens and invitation codes. Tokens: any signed-in user makes tokens with at most their
own scopes, sees and revokes their own (an admin: every token of the tenant). Invites: the
tenant's admins. The secret of each is shown once, on the page that made it. Both go through the
routes' own functions (`api.routes.tokens`, `api.routes.invites`), so every change is audited as
through the API (`token.create`, `token.revoke`, `invite.create`, `invite.deactivate`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.console import session
from api.console.ops_access import REFUSALS, SECTIONS, AdminDep, message_of
from api.console.web import Caller, CallerDep, FormDep, redirect, render
from api.routes import invites, tokens
from infra.accounts.models import ROLES

router = APIRouter(prefix=session.PATH, include_in_schema=False)

TOKENS = f"{session.PATH}/operations/tokens"
INVITES = f"{session.PATH}/operations/invites"


def _expiry(value: str) -> str | None:
    """A `date` field: the token or code stops at that day's end, UTC."""
    return f"{value.strip()}T23:59:59Z" if value.strip() else None


def _grantable(caller: Caller) -> list[str]:
    held = set(caller.principal.scopes) | ({"review"} if "moderate" in caller.principal.scopes
                                           else set())  # fmt: skip
    return [s for s in ("ingest", "read", "moderate", "review", "admin", "private") if s in held]


def _tokens_page(
    request: Request, caller: Caller, *, created: Any = None, error: str = ""
) -> Response:
    listed = tokens.list_tokens(caller.principal, caller.state).data
    return render(
        request, "ops_tokens.html", caller, section="tokens", sections=SECTIONS, tokens=listed,
        created=created, error=error, grantable=_grantable(caller),
    )  # fmt: skip


@router.get("/operations/tokens")
def tokens_page(request: Request, caller: CallerDep) -> Response:
    return _tokens_page(request, caller)


@router.post("/operations/tokens")
async def create_token(request: Request, caller: CallerDep, form: FormDep) -> Response:
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"))  # boxes repeat names
    try:
        body = tokens.TokenCreate.model_validate(
            {"name": form.get("name", "").strip(), "scopes": [v for k, v in pairs if k == "scopes"],
             "expires_at": _expiry(form.get("expires", ""))}
        )  # fmt: skip
        created = tokens.create_token(body, caller.principal, caller.state, caller.ctx)
    except (ValidationError, *REFUSALS) as exc:
        return _tokens_page(request, caller, error=message_of(exc))
    return _tokens_page(request, caller, created=created)


@router.post("/operations/tokens/revoke")
def revoke_token(caller: CallerDep, form: FormDep) -> Response:
    try:
        ident = int(form.get("token", ""))
        token = tokens.owned_token(ident, caller.principal, caller.state)
        tokens.revoke_token(token, caller.principal, caller.state, caller.ctx)
    except ValueError:
        return redirect(TOKENS, caller.state, error="Choose a token.")
    except REFUSALS as exc:
        return redirect(TOKENS, caller.state, error=message_of(exc))
    return redirect(TOKENS, caller.state, ok=f"Token {token.name} revoked: it stops working now.")


def _invites_page(
    request: Request, caller: Caller, *, created: Any = None, error: str = ""
) -> Response:
    listed = invites.list_invites(caller.principal, caller.state)
    return render(
        request, "ops_invites.html", caller, section="invites", sections=SECTIONS, invites=listed,
        created=created, error=error, roles=ROLES,
    )  # fmt: skip


@router.get("/operations/invites")
def invites_page(request: Request, caller: AdminDep) -> Response:
    return _invites_page(request, caller)


@router.post("/operations/invites")
def create_invite(request: Request, caller: AdminDep, form: FormDep) -> Response:
    try:
        body = invites.InviteCreate.model_validate(
            {"role": form.get("role", "member"), "max_uses": form.get("max_uses") or 1,
             "expires_at": _expiry(form.get("expires", ""))}
        )  # fmt: skip
        created = invites.create_invite(body, caller.principal, caller.state, caller.ctx)
    except (ValidationError, *REFUSALS) as exc:
        return _invites_page(request, caller, error=message_of(exc))
    return _invites_page(request, caller, created=created)


@router.post("/operations/invites/revoke")
def revoke_invite(caller: AdminDep, form: FormDep) -> Response:
    try:
        ident = int(form.get("invite", ""))
        invite = invites.owned_invite(ident, caller.principal, caller.state)
        invites.deactivate_invite(invite, caller.principal, caller.state, caller.ctx)
    except ValueError:
        return redirect(INVITES, caller.state, error="Choose an invitation code.")
    except REFUSALS as exc:
        return redirect(INVITES, caller.state, error=message_of(exc))
    return redirect(INVITES, caller.state, ok=f"Invitation {invite.hint}… deactivated.")
