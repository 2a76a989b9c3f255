"""The users of the caller's tenant, for its admins."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.accounts import service
from api.deps import StateDep, TenantAdmin
from api.errors import responses

router = APIRouter(prefix="/v1", tags=["tenant"])


class UserRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


@router.get(
    "/users",
    response_model=list[UserRow],
    responses=responses(401, 403, 429, 503),
    summary="Users of your tenant (tenant admins)",
)
def list_users(principal: TenantAdmin, state: StateDep) -> list[UserRow]:
    with state.accounts.session() as session:
        return [UserRow.model_validate(u) for u in service.users_of(session, principal.tenant_id)]
