"""Operations, read-only: the tenant's dead letters (any signed-in user), and for its admins
the webhook endpoints with their latest deliveries and the audit log. Each section reads
through the route function the API serves it with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console import session
from api.console.web import CallerDep, render
from api.errors import ApiError
from api.read.deadletters import DeadLetterQuery
from api.routes import audit, deadletters, webhooks
from infra.errors import Refused, WarehouseError

router = APIRouter(prefix=session.PATH, include_in_schema=False)

SHOWN = 20


@router.get("/operations")
def operations_page(request: Request, caller: CallerDep) -> Response:
    principal, state = caller.principal, caller.state
    try:
        letters: list[Any] | None = deadletters.list_dead_letters(
            DeadLetterQuery(limit=SHOWN), state, principal.tenant
        ).data
    except (ApiError, Refused, WarehouseError):
        letters = None
    hooks: list[tuple[Any, list[Any]]] = []
    entries: list[Any] = []
    admin = "admin" in principal.scopes
    if admin:
        for hook in webhooks.list_webhooks(principal, state):
            hooks.append((hook, webhooks.deliveries(hook.id, principal, state, SHOWN)))
        entries = audit.audit_log(principal, state, None, SHOWN * 2)
    return render(
        request, "operations.html", caller, letters=letters, hooks=hooks, entries=entries,
        admin=admin,
    )  # fmt: skip
