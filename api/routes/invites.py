"""Invitation codes to the caller's tenant: created (shown once), listed and deactivated by its
admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.accounts import service
from api.deps import ContextDep, StateDep, TenantAdmin
from api.errors import responses
from api.read.where import DateTimeString
from infra.accounts.models import Invite

router = APIRouter(prefix="/v1", tags=["tenant"])


class InviteCreate(BaseModel):
    role: Literal["admin", "moderator", "reviewer", "member"] = "member"
    max_uses: int = Field(default=1, ge=1, le=10_000)
    expires_at: DateTimeString | None = Field(default=None, description="Never, if unset.")


class InvitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    hint: str
    role: str
    max_uses: int
    uses: int
    expires_at: datetime | None
    active: bool
    created_by: str
    created_at: datetime


class InviteCreated(InvitePublic):
    code: str = Field(description="Shown this once: only its hash is stored.")


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteCreated,
    responses=responses(401, 403, 422, 429, 503),
    summary="Create an invitation code to your tenant (tenant admins)",
)
def create_invite(
    body: InviteCreate, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> InviteCreated:
    with state.accounts.session() as session:
        invite, code = service.create_invite(
            session,
            service.tenant_of(session, principal),
            role=body.role,
            max_uses=body.max_uses,
            expires_at=body.expires_at,
            actor=principal.actor,
            ctx=ctx,
        )
        return InviteCreated(**InvitePublic.model_validate(invite).model_dump(), code=code)


@router.get(
    "/invites",
    response_model=list[InvitePublic],
    responses=responses(401, 403, 429, 503),
    summary="Invitation codes of your tenant (tenant admins)",
)
def list_invites(principal: TenantAdmin, state: StateDep) -> list[InvitePublic]:
    with state.accounts.session() as session:
        found = service.invites_of(session, principal.tenant_id)
        return [InvitePublic.model_validate(i) for i in found]


def owned_invite(
    invite_id: Annotated[int, Path(ge=1, le=2**62)], principal: TenantAdmin, state: StateDep
) -> Invite:
    with state.accounts.session() as session:
        return service.owned_invite(session, principal.tenant_id, invite_id)


@router.delete(
    "/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 429, 503),
    summary="Deactivate an invitation code (tenant admins)",
)
def deactivate_invite(
    invite: Annotated[Invite, Depends(owned_invite)],
    principal: TenantAdmin,
    state: StateDep,
    ctx: ContextDep,
) -> Response:
    with state.accounts.session() as session:
        service.deactivate_invite(session, invite.id, principal, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
