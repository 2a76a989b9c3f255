"""A tenant's taxonomy of reasons (`/v1/review/reasons`): the default reasons and the tenant's
own (`api/review/taxonomy.py`). Reviewers read it; tenant admins add, change and remove their
own codes, audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.accounts import service
from api.deps import ContextDep, StateDep, TenantAdmin
from api.errors import ApiError, responses
from api.review import taxonomy
from api.routes.review import Reviewer
from schemas.moderation import Reason

router = APIRouter(prefix="/v1/review/reasons", tags=["review"])

ReasonCode = Annotated[str, Path(pattern=taxonomy.CODE, examples=["doxxing"])]


@router.get("", response_model=list[Reason], summary="The tenant's taxonomy of reasons")
def reasons(access: Reviewer, state: StateDep) -> list[Reason]:
    """Report categories and decision reasons, each mapped to its DSA category and ground: the
    default ones, then those the tenant added."""
    with state.accounts.session() as session:
        return list(taxonomy.reasons_of(session, access.tenant).values())


@router.put(
    "/{code}",
    response_model=Reason,
    responses=responses(401, 403, 409, 422) | {201: {"description": "Added."}},
    summary="Add or change one of the tenant's own reasons (tenant admins)",
    description="A code the default taxonomy does not have (409 `default_reason` for one it "
    "has), mapped to a Transparency Database category. Decisions already taken keep the "
    "category they were taken with.",
)
def put_reason(
    code: ReasonCode,
    body: taxonomy.ReasonIn,
    principal: TenantAdmin,
    state: StateDep,
    ctx: ContextDep,
    response: Response,
) -> Reason:
    with state.accounts.session() as session:
        if taxonomy.put(session, principal.tenant, code, body, datetime.now(UTC)):
            response.status_code = 201
        service.audit(session, ctx, principal.tenant, principal.actor, "review.reason", target=code)
        return taxonomy.lookup(session, principal.tenant, code)


@router.delete(
    "/{code}", status_code=204, responses=responses(401, 403, 404, 409),
    summary="Remove one of the tenant's own reasons (tenant admins)",
)  # fmt: skip
def delete_reason(
    code: ReasonCode, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> Response:
    with state.accounts.session() as session:
        if not taxonomy.drop(session, principal.tenant, code):
            raise ApiError(404, "not_found", f"the tenant has no reason {code!r} of its own")
        service.audit(
            session, ctx, principal.tenant, principal.actor, "review.reason.removed", target=code
        )
    return Response(status_code=204)
