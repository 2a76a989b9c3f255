"""The caller's tenant: its settings and privacy mode. Its policy, users, invitation codes,
usage and audit log have a router each, under the same `tenant` tag."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.accounts import service
from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import responses

router = APIRouter(prefix="/v1", tags=["tenant"])


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    privacy_mode: bool = Field(
        description="Only a SHA-256 of each text and the verdict are stored (docs/security.md)."
    )
    quota_per_minute: int | None = Field(description="Requests; null: the server default.")
    quota_per_day: int | None
    created_at: datetime


class PrivacyChange(BaseModel):
    privacy_mode: StrictBool  # `true` or `false`, as the schema says; not 0, 1 or "yes"


@router.get(
    "/tenant",
    response_model=TenantPublic,
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's settings",
)
def get_tenant(principal: Reader, state: StateDep) -> TenantPublic:
    with state.accounts.session() as session:
        return TenantPublic.model_validate(service.tenant_of(session, principal))


@router.put(
    "/tenant/privacy",
    response_model=TenantPublic,
    responses=responses(401, 403, 422, 429, 503),
    summary="Turn privacy mode on or off (tenant admins)",
    description="On: from now on the warehouse keeps a SHA-256 of each text instead of the "
    "text (items stored earlier are not rewritten). The embedded sink applies it at once; a "
    "separate `modstream sink` within `MODSTREAM_PRIVACY_REFRESH` seconds.",
)
def set_privacy(
    body: PrivacyChange, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> TenantPublic:
    with state.accounts.session() as session:
        tenant = service.set_privacy(session, principal, body.privacy_mode, ctx)
        out = TenantPublic.model_validate(tenant)
    state.privacy.invalidate()
    return out
