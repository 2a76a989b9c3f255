"""One item: its text with the toxic spans marked (or, for an image or video, the media veiled
until a click, its bank matches and duplicate cluster), its label scores as bars, the model's
verdict and the rewrite it suggested, the thread around it, the queue entry (who holds or
decided it), reports, appeals and the notices sent, and its history; the claim, release and
decision forms when it is open."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.console import reads, session
from api.console.item_media import media_view
from api.console.markup import highlight
from api.console.review_pages import DEFAULT_REASON
from api.console.reviewing import ReviewerDep
from api.console.web import refused_page, render
from api.errors import ApiError
from api.read.verdict import get_verdict_detail
from api.review import taxonomy
from api.routes import review
from infra.errors import Refused, WarehouseError
from schemas.events import Kind

router = APIRouter(prefix=session.PATH, include_in_schema=False)

ItemPath = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/items/{item}")
def item_page(item: ItemPath, request: Request, caller: ReviewerDep) -> Response:
    state, tenant = caller.state, caller.principal.tenant
    try:
        entry = review.get_item(item, caller.access, state, caller.ctx)
    except (ApiError, Refused) as exc:
        return refused_page(request, exc.message, 404)
    try:
        verdict = get_verdict_detail(state.warehouse, tenant, entry.event_id)
        context = reads.thread(state.warehouse, tenant, entry.event_id)
    except WarehouseError:
        verdict, context = None, None
    shown = media_view(state, tenant, entry.event_id) if entry.kind == Kind.MEDIA.value else None
    sent = reads.notices(state.warehouse, tenant, entry.event_id)
    with state.accounts.session() as db:
        rows = reads.entries(db, tenant, entry.event_id)
        reported = reads.reports(db, tenant, entry.event_id)
        found = reads.actions(state.warehouse, tenant, entry.event_id)
        steps = reads.history(rows, found, reported)
        appeals = [r for r in rows if r.origin == "appeal"]
        own = next(r for r in rows if r.id == entry.id)
        decided = (own.decided_action, own.claimed_by) if own.state != "open" else None
        reports = [(r.created_at, r.reporter, r.category, r.text) for r in reported]
        reasons = list(taxonomy.reasons_of(db, tenant).values())
        appeal_rows = [(r.id, r.enqueued_at, r.appeal_of, r.appeal_text, r.state,
                        r.decided_action) for r in appeals]  # fmt: skip
    runs = highlight(verdict.text or "", verdict.spans) if verdict and verdict.text else []
    scores = sorted((verdict.scores if verdict else {}).items(), key=lambda kv: -kv[1])
    return render(
        request, "item.html", caller, entry=entry, verdict=verdict, runs=runs, scores=scores,
        history=steps, reports=reports, appeals=appeal_rows, reasons=reasons,
        defaults=DEFAULT_REASON, me=caller.principal.actor, decided=decided,
        warehouse_ok=found is not None, back=f"{session.PATH}/items/{item}", thread=context,
        media=shown, notices=sent,
    )  # fmt: skip
