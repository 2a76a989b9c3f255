"""Request counts of the caller's tenant, per user and per token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.accounts import service
from api.deps import Reader, StateDep
from api.errors import responses

router = APIRouter(prefix="/v1", tags=["tenant"])


class Counts(BaseModel):
    total: int
    today: int
    month: int


class SubjectUsage(Counts):
    subject: str = Field(description="`user:ID` or `token:ID`")
    name: str = Field(description="The user's email or the token's name.")


class Usage(BaseModel):
    tenant: Counts
    data: list[SubjectUsage]


@router.get(
    "/usage",
    response_model=Usage,
    responses=responses(401, 403, 429, 503),
    summary="Request counts per user and per token: total, today, this month (UTC)",
    description="A tenant admin sees every user and token of the tenant; others see themselves "
    "and their own tokens. Refused requests (401, 429) are not counted. Each API process writes "
    "its counts every `MODSTREAM_USAGE_FLUSH_INTERVAL` seconds: another process's latest "
    "requests may be missing.",
)
def usage(principal: Reader, state: StateDep) -> Usage:
    tenant_key = f"tenant:{principal.tenant}"
    state.meter.flush()  # counts are written in batches (api/accounts/meter.py): ours first
    with state.accounts.session() as session:
        names = service.visible_subjects(session, principal)
        counts = service.usage_of(session, [*names, tenant_key])
    return Usage(
        tenant=Counts(**counts[tenant_key]),
        data=[SubjectUsage(subject=s, name=n, **counts[s]) for s, n in names.items()],
    )
