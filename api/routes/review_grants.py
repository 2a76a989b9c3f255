"""Which review queues a reviewer may work in (`/v1/review/grants`, tenant admins).

A caller with the `review` scope and not `moderate` (a user of the `reviewer` role, or a token
given `review`) lists, claims, releases and decides only in the queues granted to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.accounts import service
from api.deps import ContextDep, StateDep, TenantAdmin
from api.errors import ApiError, responses
from api.review import grants
from api.review.queues import QueueName

router = APIRouter(prefix="/v1/review/grants", tags=["review"])

ReviewerPath = Annotated[
    str,
    Path(
        min_length=6, max_length=300, pattern=r"^(user:\S+|token:[0-9]{1,18})$",
        description="`user:<email>` (covers the tokens that user owns) or `token:<id>`.",
        examples=["user:ana@example.com", "token:12"],
    ),
]  # fmt: skip


class GrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"queues": ["hate-ar", "appeals"]}]}
    )

    queues: list[Annotated[str, QueueName]] = Field(
        max_length=100, description="The queues this reviewer may work in (replaces the list)."
    )


class Grant(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reviewer": "user:ana@example.com", "queues": ["hate-ar"]}]
        }
    )

    reviewer: str
    queues: list[str]


@router.get(
    "", response_model=list[Grant], responses=responses(401, 403),
    summary="Every reviewer's granted queues (tenant admins)",
)  # fmt: skip
def list_grants(principal: TenantAdmin, state: StateDep) -> list[Grant]:
    with state.accounts.session() as session:
        found = grants.all_grants(session, principal.tenant)
    return [Grant(reviewer=r, queues=q) for r, q in found.items()]


@router.put(
    "/{reviewer}",
    response_model=Grant,
    responses=responses(401, 403, 404, 422),
    summary="Set the queues a reviewer may work in (tenant admins)",
    description="Replaces the reviewer's list. A user of the `reviewer` role, or a token with "
    "the `review` scope, then lists, claims, releases and decides in these queues only (403 "
    "`queue_not_granted` elsewhere). Callers with `moderate` review every queue regardless.",
)
def put_grant(
    reviewer: ReviewerPath, body: GrantIn, principal: TenantAdmin, state: StateDep,
    ctx: ContextDep,
) -> Grant:  # fmt: skip
    reviewer = grants.normalised(reviewer)
    with state.accounts.session() as session:
        grants.check_reviewer(session, principal.tenant_id, reviewer)
        queues = grants.put(
            session, tenant=principal.tenant, reviewer=reviewer, queues=body.queues,
            by=principal.actor, now=datetime.now(UTC),
        )  # fmt: skip
        service.audit(
            session, ctx, principal.tenant, principal.actor, "review.grant", target=reviewer,
            detail=service.audit_json(queues=queues),
        )  # fmt: skip
    return Grant(reviewer=reviewer, queues=queues)


@router.delete(
    "/{reviewer}", status_code=204, responses=responses(401, 403, 404),
    summary="Take every queue away from a reviewer (tenant admins)",
)  # fmt: skip
def delete_grant(
    reviewer: ReviewerPath, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> Response:
    reviewer = grants.normalised(reviewer)
    with state.accounts.session() as session:
        if not grants.drop(session, principal.tenant, reviewer):
            raise ApiError(404, "not_found", f"{reviewer} has no granted queue")
        service.audit(
            session, ctx, principal.tenant, principal.actor, "review.grant", target=reviewer,
            detail=service.audit_json(queues=[]),
        )  # fmt: skip
    return Response(status_code=204)
