"""The review pages: queues with their counts and SLA clocks, a queue's items in priority order,
and the claim, release and decision forms. Each action runs the review route's own function
(`api.routes.review`), so the console decides exactly as any API client does: the same lease
checks, the action published on `moderation.actions`, its notices and webhook deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.console import session
from api.console.reviewing import ReviewerDep
from api.console.web import FormDep, local, redirect, refused_page, render
from api.errors import ApiError
from api.review.decisions import DecisionIn
from api.routes import review, review_reasons
from infra.errors import Refused

router = APIRouter(prefix=session.PATH, include_in_schema=False)

QueuePath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
ItemPath = Annotated[int, Path(ge=1, le=2**62)]
PAGE = 100
DEFAULT_REASON = {"approve": "no_violation", "overturn": "no_violation", "escalate": "other"}


@router.get("")
def queues(request: Request, caller: ReviewerDep) -> Response:
    found = review.list_queues(caller.access, caller.state)
    granted = caller.access.queues
    listed = {q.name for q in found}
    sla = caller.state.settings.review.sla
    found += [  # a granted queue with nothing in it yet is still the reviewer's to watch
        review.QueueInfo(name=q, open=0, claimed=0, oldest=None, sla_seconds=sla, breaches=0)
        for q in sorted((granted or set()) - listed)
    ]
    return render(request, "queues.html", caller, queues=found, granted=granted)


@router.get("/queues/{queue}")
def queue(queue: QueuePath, request: Request, caller: ReviewerDep) -> Response:
    listed = review.list_queues(caller.access, caller.state)
    info = next((q for q in listed if q.name == queue), None)
    sla = info.sla_seconds if info else caller.state.settings.review.sla
    try:
        page = review.queue_items(queue, caller.access, caller.state, caller.ctx, PAGE, None)
    except Refused as exc:  # a queue not granted to this reviewer
        return refused_page(request, exc.message)
    return render(
        request, "queue.html", caller, queue=queue, info=info, sla=sla, items=page.data,
        more=page.next is not None, reasons=review_reasons.reasons(caller.access, caller.state),
        defaults=DEFAULT_REASON,
        me=caller.principal.actor,
    )  # fmt: skip


@router.post("/queues/{queue}/claim")
def claim_next(queue: QueuePath, caller: ReviewerDep, form: FormDep) -> Response:
    back = f"{session.PATH}/queues/{queue}"
    try:
        got = review.claim_next(queue, caller.access, caller.state, caller.ctx)
    except (ApiError, Refused) as exc:
        return redirect(back, caller.state, error=exc.message)
    if not isinstance(got, review.ItemOut):
        return redirect(back, caller.state, ok="Nothing left to claim in this queue.")
    return redirect(f"{back}#item-{got.id}", caller.state, ok=f"Claimed item {got.id}.")


@router.post("/items/{item}/claim")
def claim(item: ItemPath, caller: ReviewerDep, form: FormDep) -> Response:
    back = local(form.get("back"), f"{session.PATH}/items/{item}")
    try:
        review.claim(item, caller.access, caller.state, caller.ctx)
    except (ApiError, Refused) as exc:
        return redirect(back, caller.state, error=exc.message)
    return redirect(back, caller.state, ok=f"Claimed item {item}.")


@router.post("/items/{item}/release")
def release(item: ItemPath, caller: ReviewerDep, form: FormDep) -> Response:
    back = local(form.get("back"), f"{session.PATH}/items/{item}")
    try:
        review.release(item, caller.access, caller.state)
    except (ApiError, Refused) as exc:
        return redirect(back, caller.state, error=exc.message)
    return redirect(back, caller.state, ok=f"Released item {item}.")


@router.post("/items/{item}/decision")
async def decide(item: ItemPath, caller: ReviewerDep, form: FormDep) -> Response:
    back = local(form.get("back"), f"{session.PATH}/items/{item}")
    try:
        body = DecisionIn(
            action=form.get("action", ""),
            reason=form.get("reason", ""),
            note=form.get("note", ""),
            queue=form.get("queue") or None,
        )
        done = await review.decide(item, body, caller.access, caller.state, caller.ctx)
    except ValidationError:
        return redirect(back, caller.state, error="Choose an action and a reason.")
    except (ApiError, Refused) as exc:
        return redirect(back, caller.state, error=exc.message)
    titles = {r.code: r.title for r in review_reasons.reasons(caller.access, caller.state)}
    reason = done.action.reason
    what = f"{done.action.action.value} ({titles.get(reason, reason)})"
    return redirect(back, caller.state, ok=f"Item {item}: {what}.")
