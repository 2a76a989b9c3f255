"""What the operations and rules pages share: who may change what (the API's own scopes: tenant
admins for webhooks, policy, invites, the audit log, dead-letter replays and rule changes), the
refusals every form turns into a notice, and the sections of the operations pages.

A form posted with problems is answered with the same page, the problems shown beside their
fields and what was typed kept, as a 200: it is a page to read, not an error of the browser's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import ValidationError

from api.console.web import Caller, CallerDep, NotAllowed, TenantReaderDep
from api.errors import ApiError
from infra.errors import Refused, WarehouseError

SECTIONS = (
    ("deadletters", "Dead letters", "/console/operations"),
    ("webhooks", "Webhooks", "/console/operations/webhooks"),
    ("policy", "Decision policy", "/console/operations/policy"),
    ("tokens", "Tokens", "/console/operations/tokens"),
    ("invites", "Invites", "/console/operations/invites"),
    ("audit", "Audit log", "/console/operations/audit"),
)
"""(id, title, page) of each operations page, for their shared navigation."""

REFUSALS = (ApiError, Refused, WarehouseError)
"""What a route function raises for a caller: shown on the page, never a 500."""


def admin(caller: CallerDep) -> Caller:
    """The `admin` scope, as the API's `TenantAdmin` routes ask for it."""
    if "admin" not in caller.principal.scopes:
        raise NotAllowed("This page is for the tenant's admins.")
    return caller


AdminDep = Annotated[Caller, Depends(admin)]


ReaderDep = TenantReaderDep
"""The `read` scope, as the API's `Reader` routes ask for it (not a reviewer limited to queues)."""


def message_of(exc: Exception) -> str:
    """A refusal in words, for a notice beside the form."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
    if isinstance(exc, WarehouseError):
        return "The warehouse did not answer: try again."
    return str(getattr(exc, "message", exc))
