"""The tenant's audit log (tenant admins), newest first, optionally one action only: the audit
route's own function (`GET /v1/audit`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import session
from api.console.ops_access import SECTIONS, AdminDep
from api.console.web import render
from api.routes import audit

router = APIRouter(prefix=session.PATH, include_in_schema=False)

SHOWN = 200


@router.get("/operations/audit")
def audit_page(
    request: Request, caller: AdminDep, action: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    entries = audit.audit_log(caller.principal, caller.state, action.strip() or None, SHOWN)
    return render(
        request, "ops_audit.html", caller, section="audit", sections=SECTIONS, entries=entries,
        action=action,
    )  # fmt: skip
