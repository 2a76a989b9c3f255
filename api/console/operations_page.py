"""Operations, first page: the tenant's dead letters, filtered as `GET /v1/deadletters` filters
them (any signed-in user), and replayed by its admins, one or every match of the filter, through
the replay route's own function (`api.routes.deadletters`: the same checks, idempotence, dry run
and `deadletter.replay` audit entries as `POST /v1/deadletters/replay`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.console import session
from api.console.ops_access import REFUSALS, SECTIONS, AdminDep, ReaderDep, message_of
from api.console.web import Caller, FormDep, render
from api.read.deadletters import DeadLetterFilter, DeadLetterQuery
from api.replay import ReplayReport, ReplayRequest
from api.routes import deadletters
from schemas.records import DeadLetterReason

router = APIRouter(prefix=session.PATH, include_in_schema=False)

SHOWN = 50
FILTER_FIELDS = ("reason", "topic", "event_id", "since", "until")


def _time(value: str) -> str | None:
    """A `datetime-local` field (no zone) read as UTC; RFC 3339 as given."""
    value = value.strip()
    if not value:
        return None
    if value.endswith("Z") or "+" in value[10:] or value[10:].count("-"):
        return value
    return value + (":00Z" if len(value) == 16 else "Z")


def filter_of(given: dict[str, str]) -> DeadLetterFilter:
    """The page's filter fields as the API's filter; raises `ValidationError`."""
    since, until = _time(given.get("since", "")), _time(given.get("until", ""))
    return DeadLetterFilter.model_validate(
        {
            "reason": [given["reason"]] if given.get("reason") else [],
            "topic": given.get("topic") or None,
            "event_id": given.get("event_id") or None,
            "since": since,
            "until": until,
        }
    )


def _page(
    request: Request, caller: Caller, given: dict[str, str], *, report: ReplayReport | None = None,
    error: str = "",
) -> Response:  # fmt: skip
    letters: list[Any] | None = None
    try:
        wanted = filter_of(given)
        query = DeadLetterQuery(**wanted.model_dump(), limit=SHOWN)
        letters = deadletters.list_dead_letters(query, caller.state, caller.principal.tenant).data
    except ValidationError as exc:
        error = error or message_of(exc)
        letters = []
    except REFUSALS as exc:
        error = error or message_of(exc)
    return render(
        request, "operations.html", caller, section="deadletters", sections=SECTIONS,
        letters=letters, given={k: given.get(k, "") for k in FILTER_FIELDS},
        reasons=[r.value for r in DeadLetterReason], report=report, error=error,
        admin="admin" in caller.principal.scopes,
    )  # fmt: skip


@router.get("/operations")
def operations_page(
    request: Request,
    caller: ReaderDep,
    reason: Annotated[str, Query(max_length=32)] = "",
    topic: Annotated[str, Query(max_length=249)] = "",
    event_id: Annotated[str, Query(max_length=256)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    given = {"reason": reason, "topic": topic, "event_id": event_id, "since": since,
             "until": until}  # fmt: skip
    return _page(request, caller, given)


@router.post("/operations/deadletters/replay")
async def replay(request: Request, caller: AdminDep, form: FormDep) -> Response:
    """`id`: that dead letter; otherwise every match of the filter fields. `dry_run` and
    `force` as the API has them."""
    flags = {"dry_run": form.get("dry_run") == "1", "force": form.get("force") == "1"}
    try:
        if form.get("id"):
            body = ReplayRequest(ids=[form["id"]], **flags)
        else:
            body = ReplayRequest(filter=filter_of(form), **flags)
        report = await deadletters.replay_dead_letters(
            body, caller.state, caller.principal, caller.ctx
        )
    except ValidationError as exc:
        return _page(request, caller, form, error=message_of(exc))
    except REFUSALS as exc:
        return _page(request, caller, form, error=message_of(exc))
    return _page(request, caller, form, report=report)
