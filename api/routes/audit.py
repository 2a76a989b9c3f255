"""The audit log of the caller's tenant, for its admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.accounts import service
from api.deps import StateDep, TenantAdmin
from api.errors import responses

router = APIRouter(prefix="/v1", tags=["tenant"])


class AuditRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    outcome: str
    request_id: str | None
    client: str | None
    detail: str | None


@router.get(
    "/audit",
    response_model=list[AuditRow],
    responses=responses(401, 403, 422, 429, 503),
    summary="The audit log of your tenant, newest first (tenant admins)",
    description="Logins, token and invite changes, privacy-mode and policy changes, bank imports "
    "and status changes, registrations: who, what, when, from where, with the request id.",
)
def audit_log(
    principal: TenantAdmin,
    state: StateDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[AuditRow]:
    with state.accounts.session() as session:
        rows = service.entries(session, principal.tenant, action, limit)
        return [AuditRow.model_validate(r) for r in rows]
