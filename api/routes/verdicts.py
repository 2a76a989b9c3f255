"""Verdicts by event id, with the judged text and duplicate matches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.accounts import service
from api.deps import ContextDep, ItemReader, StateDep
from api.errors import ApiError, responses
from api.read.verdict import VerdictDetail, get_verdict_detail
from api.review import grants
from api.routes.posts import EXAMPLE_ITEM
from schemas.events import Kind

router = APIRouter(prefix="/v1", tags=["verdicts"])


@router.get(
    "/verdicts/{event_id}",
    response_model=VerdictDetail,
    responses=responses(401, 403, 404, 422, 503)
    | {
        200: {
            "content": {
                "application/json": {
                    "example": EXAMPLE_ITEM
                    | {"reused_by": ["comments-7790", "chat-118"], "visible_after": None}
                }
            }
        }
    },
    summary="The verdict of one event, in full",
    description="Scores, spans, model and policy versions, the text, `duplicate_of` (the event "
    "whose scores were reused) and `reused_by` (events that reused these). 404 until the event "
    "is judged and stored (usually well under a second). A chat message is private: 403 without "
    "the `private` scope, and every read with it is audited (`private.read`). A reviewer limited "
    "to granted queues reads only items in them (403 `item_not_granted`).",
)
def get_verdict(
    event_id: Annotated[str, Path(min_length=1, max_length=256, examples=["comments-7731"])],
    state: StateDep,
    principal: ItemReader,
    ctx: ContextDep,
) -> VerdictDetail:
    # A sync handler: FastAPI runs it in its thread pool, so chdb never blocks the event loop.
    if principal.queue_limited:
        with state.accounts.session() as session:
            grants.check_item(session, principal, event_id)
    verdict = get_verdict_detail(state.warehouse, principal.tenant, event_id)
    if verdict is None:
        raise ApiError(404, "not_found", f"no verdict for event {event_id!r} (yet)")
    if verdict.kind == Kind.CHAT_MESSAGE:
        if "private" not in principal.scopes:
            raise ApiError(
                403, "insufficient_scope",
                f"event {event_id!r} is a chat message, which is private: this needs the "
                "'private' scope",
            )  # fmt: skip
        with state.accounts.session() as session:
            service.audit(
                session, ctx, principal.tenant, principal.actor, "private.read",
                target=f"verdict:{event_id}",
            )  # fmt: skip
    return verdict
