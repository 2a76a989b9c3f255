"""DSA exports: statements of reasons in batches, and the transparency summary (tenant admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import StateDep, TenantAdmin
from api.errors import responses
from api.read.where import WarehouseTime
from api.review import dsa, taxonomy
from api.review.dsa import Summary
from infra.accounts.review import Report
from infra.delivery import Mode
from infra.settings import Settings
from schemas.dsa import BATCH_MAX

router = APIRouter(prefix="/v1/dsa", tags=["dsa"])

Since = Annotated[WarehouseTime | None, Query(description="Inclusive; default 30 days ago.")]
Until = Annotated[WarehouseTime | None, Query(description="Exclusive; default now.")]


class StatementBatch(BaseModel):
    batch: dict[str, Any] = Field(
        description='`{"statements": [...]}`: the body of one submission to the '
        "Transparency Database's statements endpoint (schema: `dsa_statements_batch.schema.json`)."
    )
    count: int
    next: str | None = Field(description="`after` for the next batch; null at the end.")


def delivery_mode(settings: Settings, tenant: str, kind: str) -> Mode:
    """What readers get of a rejected item of this kind: the chat gateway's mode for chat
    messages, the threads' for everything else."""
    section = settings.chat if kind == "chat_message" else settings.posts
    return section.modes.get(tenant, section.mode)


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = (until or datetime.now(UTC)).astimezone(UTC)
    return (since or end - timedelta(days=30)).astimezone(UTC), end


@router.get(
    "/statements",
    response_model=StatementBatch,
    responses=responses(401, 403, 422),
    summary="Statements of reasons, in Transparency Database batches",
    description="One statement per restriction decided in the period: reviewers' removals, "
    "upheld removals and labels (`automated_decision` `AUTOMATED_DECISION_NOT_AUTOMATED`), then "
    "the models' rejections (`AUTOMATED_DECISION_FULLY`, visibility per the tenant's delivery "
    "mode), at most 100 a batch as the database takes them; follow `next` with `after`.",
)
def statements(
    principal: TenantAdmin,
    state: StateDep,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=BATCH_MAX)] = BATCH_MAX,
    after: Annotated[str, Query(max_length=300, description="`next` of the previous batch.")] = "",
) -> StatementBatch:
    with state.accounts.session() as session:
        reasons = taxonomy.reasons_of(session, principal.tenant)
    found, following = dsa.statements(
        state.warehouse, principal.tenant, _period(since, until), limit, after,
        lambda kind: delivery_mode(state.settings, principal.tenant, kind), reasons,
    )  # fmt: skip
    return StatementBatch(batch={"statements": found}, count=len(found), next=following)


@router.get(
    "/summary",
    response_model=Summary,
    responses=responses(401, 403, 422),
    summary="Transparency-report counts for a period",
)
def summary(
    principal: TenantAdmin, state: StateDep, since: Since = None, until: Until = None
) -> Summary:
    start, end = _period(since, until)
    with state.accounts.session() as session:
        reports = session.scalar(
            select(func.count()).where(
                Report.tenant == principal.tenant, Report.created_at >= start,
                Report.created_at < end,
            )
        )  # fmt: skip
    return dsa.summary(state.warehouse, principal.tenant, start, end, int(reports or 0))
