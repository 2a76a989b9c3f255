"""Verdicts by event id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api import queries
from api.deps import StateDep, TenantDep
from api.errors import ApiError, responses
from schemas.records import Verdict

router = APIRouter(prefix="/v1", tags=["verdicts"])


@router.get(
    "/verdicts/{event_id}",
    response_model=Verdict,
    responses=responses(404, 503),
    summary="The verdict of one event",
    description="404 until the event is judged and stored (usually well under a second).",
)
def get_verdict(
    event_id: Annotated[str, Path(min_length=1, max_length=256, examples=["comments-7731"])],
    state: StateDep,
    tenant: TenantDep,
) -> Verdict:
    # A sync handler: FastAPI runs it in its thread pool, so chdb never blocks the event loop.
    verdict = queries.get_verdict(state.warehouse, tenant, event_id)
    if verdict is None:
        raise ApiError(404, "not_found", f"no verdict for event {event_id!r} (yet)")
    return verdict
