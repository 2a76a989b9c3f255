"""Reports and appeals from upstream apps, on behalf of their users (the `ingest` scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api import queries
from api.deps import Ingester, StateDep
from api.errors import ApiError, responses
from api.review import decisions, items, taxonomy
from api.review.decisions import AppealIn
from api.review.intake import media_subject_of, strikes_of, subject_of
from api.review.items import Subject
from api.review.taxonomy import CODE
from infra.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["review"])


class ReportIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_id": "comments-7731", "category": "harassment", "reporter": "user-9"}
            ]
        },
    )

    event_id: str = Field(
        min_length=1, max_length=256,
        description="The item reported: a post, a chat message or an image or video (the event "
        "id its verdict has, as `GET /v1/verdicts/{id}` or `GET /v1/media/{id}` show).",
    )  # fmt: skip
    category: str = Field(
        pattern=CODE,
        description="A code of the tenant's taxonomy (`GET /v1/review/reasons`): a default "
        "reason or one the tenant added.",
    )
    reporter: str = Field(min_length=1, max_length=256, description="The end user reporting.")
    text: str = Field(default="", max_length=5_000, description="What the reporter wrote.")


class ReportOut(BaseModel):
    review_item: int = Field(description="The item's queue entry.")
    queue: str
    reports: int = Field(description="Reports of the item so far (one per reporter).")
    counted: bool = Field(description="False when this reporter had reported it already.")


class AppealOut(BaseModel):
    review_item: int
    queue: str
    state: Literal["open"] = "open"
    enqueued_at: AwareDatetime


def judged(warehouse: Warehouse, tenant: str, event_id: str) -> Subject | None:
    """The reported item as the tenant's warehouse knows it: a text verdict, else a media one
    (the queue entry is then of kind `media`, as the media worker's `review` verdicts are)."""
    verdict = queries.get_verdict(warehouse, tenant, event_id)
    if verdict is not None:
        return subject_of(verdict)
    media = queries.get_media_verdict(warehouse, tenant, event_id)
    return media_subject_of(media) if media is not None else None


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportOut,
    responses=responses(401, 403, 404, 422),
    summary="Report an item on behalf of an end user",
    description="The item (text, or an image or video of `/v1/media`) enters its review queue "
    "(or, if it is there, counts one more report and moves up). 404 until the item is judged "
    "and stored.",
)
def report(body: ReportIn, principal: Ingester, state: StateDep) -> ReportOut:
    with state.accounts.session() as session:
        taxonomy.lookup(session, principal.tenant, body.category, what="category")
    subject = judged(state.warehouse, principal.tenant, body.event_id)
    if subject is None:
        raise ApiError(404, "not_found", f"no judged item {body.event_id!r} (yet)")
    strikes = strikes_of(state.warehouse, principal.tenant, [subject.author])
    with state.accounts.session() as session:
        entry, counted = items.report(
            session, subject, reporter=body.reporter, category=body.category,
            text=body.text, strikes=strikes.get(subject.author, 0), now=datetime.now(UTC),
        )  # fmt: skip
        return ReportOut(
            review_item=entry.id, queue=entry.queue, reports=entry.reports, counted=counted
        )


@router.post(
    "/appeals",
    status_code=201,
    response_model=AppealOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Appeal a removal on behalf of its author",
    description="Within `MODSTREAM_REVIEW_APPEAL_WINDOW` of the decision (six months by "
    "default). The appeal enters the `appeals` queue and is decided by another reviewer than "
    "the removal's; an overturn restores the item and takes its strike back.",
)
def appeal(body: AppealIn, principal: Ingester, state: StateDep) -> AppealOut:
    with state.accounts.session() as session:
        entry = decisions.appeal(
            session, principal.tenant, body,
            appeal_window=state.settings.review.appeal_window, now=datetime.now(UTC),
        )  # fmt: skip
        return AppealOut(review_item=entry.id, queue=entry.queue, enqueued_at=entry.enqueued_at)
