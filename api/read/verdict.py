"""One verdict in full, as `GET /v1/verdicts/{id}` and the console's item page read it."""

from __future__ import annotations

from pydantic import Field

from api.queries import MAX_DUPLICATES, get_verdict, reused_by
from api.read.moderation import LATEST, Moderated
from infra.warehouse import Warehouse
from schemas.records import Verdict


class VerdictDetail(Verdict, Moderated):
    """A verdict with the judged text, its duplicate matches in both directions and the
    reviewers' decision."""

    text: str | None = Field(default=None, description="The judged text, from the event.")
    reused_by: list[str] = Field(
        default_factory=list,
        description=f"Events that reused these scores (same content); at most {MAX_DUPLICATES}.",
    )


_TEXT_AND_MODERATION = (
    # Two point reads in one statement: each statement costs chdb more than such a read.
    "SELECT (SELECT text FROM events FINAL WHERE tenant = {tenant:String} "  # noqa: S608
    "AND occurred_at = {at:DateTime64(3, 'UTC')} AND event_id = {event_id:String} LIMIT 1) "
    f"AS text, (SELECT {LATEST} FROM moderation_actions FINAL "
    "WHERE tenant = {tenant:String} AND event_id = {event_id:String} AND effect != 'none') "
    "AS moderation SETTINGS max_threads = 1"
)


def get_verdict_detail(warehouse: Warehouse, tenant: str, event_id: str) -> VerdictDetail | None:
    verdict = get_verdict(warehouse, tenant, event_id)
    if verdict is None:
        return None
    [extra] = warehouse.rows(
        _TEXT_AND_MODERATION,
        {"tenant": tenant, "event_id": event_id, "at": verdict.occurred_at},
    )
    return VerdictDetail(
        **verdict.model_dump(),
        text=extra["text"],
        reused_by=reused_by(warehouse, tenant, event_id),
        moderation=extra["moderation"] or None,
    )
