"""The caller's tenant's own decision policy: read, replaced and dropped by its admins."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from api.accounts import service
from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import responses
from infra.accounts.models import TenantPolicy
from schemas.policy import PolicyDocument

router = APIRouter(prefix="/v1", tags=["tenant"])


class StoredPolicy(BaseModel):
    policy: PolicyDocument = Field(
        description="Your own policy; what it leaves out comes from the operator's."
    )
    updated_at: datetime | None = Field(description="Null: no policy of your own yet.")
    updated_by: str | None


def _stored(row: TenantPolicy | None) -> StoredPolicy:
    return StoredPolicy(
        policy=service.document_of(row),
        updated_at=None if row is None else row.updated_at,
        updated_by=None if row is None else row.updated_by,
    )


@router.get(
    "/tenant/policy",
    response_model=StoredPolicy,
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's decision policy",
)
def get_policy(principal: Reader, state: StateDep) -> StoredPolicy:
    with state.accounts.session() as session:
        return _stored(service.stored_policy(session, principal.tenant_id))


@router.put(
    "/tenant/policy",
    response_model=StoredPolicy,
    responses=responses(401, 403, 422, 429, 503),
    summary="Set your tenant's decision policy (tenant admins)",
    description="Thresholds per score: approve at or below `low`, reject above `high`, review "
    "between; the most severe decision of all bands wins. Replaces your whole policy; stream "
    "workers apply it within `MODSTREAM_POLICY_REFRESH` seconds, and each verdict names the "
    "policy version it was decided under. Audited.",
)
def set_policy(
    body: PolicyDocument, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> StoredPolicy:
    with state.accounts.session() as session:
        return _stored(service.set_policy(session, principal, body, ctx))


@router.delete(
    "/tenant/policy",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 429, 503),
    summary="Drop your tenant's own policy: the operator's applies again (tenant admins)",
)
def delete_policy(principal: TenantAdmin, state: StateDep, ctx: ContextDep) -> Response:
    with state.accounts.session() as session:
        service.drop_policy(session, principal, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
