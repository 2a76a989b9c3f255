"""Webhooks (tenant admins): the endpoints with their delivery log, a new endpoint (its signing
secret shown once) and an endpoint stopped, through the webhook routes' own functions (the same
URL checks and outbound address guard as `POST /v1/webhooks`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.console import session
from api.console.ops_access import REFUSALS, SECTIONS, AdminDep, message_of
from api.console.web import Caller, FormDep, redirect, render
from api.review.webhooks import DEFAULT_EVENTS, EVENT_TYPES
from api.routes import webhooks

router = APIRouter(prefix=session.PATH, include_in_schema=False)

PAGE = f"{session.PATH}/operations/webhooks"
SHOWN = 20
DECISIONS = ("approve", "review", "reject")


def _page(
    request: Request, caller: Caller, *, created: Any = None, error: str = "",
    given: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    principal, state = caller.principal, caller.state
    hooks = [
        (hook, webhooks.deliveries(hook.id, principal, state, SHOWN))
        for hook in webhooks.list_webhooks(principal, state)
    ]
    return render(
        request, "ops_webhooks.html", caller, section="webhooks", sections=SECTIONS, hooks=hooks,
        created=created, error=error, given=given or {}, event_types=EVENT_TYPES,
        decisions=DECISIONS,
    )  # fmt: skip


@router.get("/operations/webhooks")
def webhooks_page(request: Request, caller: AdminDep) -> Response:
    return _page(request, caller)


@router.post("/operations/webhooks")
async def create(request: Request, caller: AdminDep, form: FormDep) -> Response:
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"))  # boxes repeat names
    events = [v for k, v in pairs if k == "events"]
    decisions = [v for k, v in pairs if k == "verdict_decisions"]
    names = form.get("webhook_names", "").replace(",", " ").split()
    url = form.get("url", "").strip()
    given = {"url": url, "events": events, "verdict_decisions": decisions, "webhook_names": names}
    try:
        body = webhooks.WebhookIn.model_validate(
            {"url": url, "events": events or list(DEFAULT_EVENTS),
             "verdict_decisions": decisions, "webhook_names": names}
        )  # fmt: skip
        created = webhooks.create(body, caller.principal, caller.state)
    except ValidationError as exc:
        return _page(request, caller, error=message_of(exc), given=given)
    except REFUSALS as exc:
        return _page(request, caller, error=message_of(exc), given=given)
    return _page(request, caller, created=created)


@router.post("/operations/webhooks/disable")
def disable(caller: AdminDep, form: FormDep) -> Response:
    """The API's `DELETE /v1/webhooks/{hook}`: deliveries stop, the log is kept."""
    try:
        hook = int(form.get("hook", ""))
        webhooks.delete(hook, caller.principal, caller.state)
    except ValueError:
        return redirect(PAGE, caller.state, error="Choose an endpoint.")
    except REFUSALS as exc:
        return redirect(PAGE, caller.state, error=message_of(exc))
    return redirect(PAGE, caller.state, ok=f"Webhook {hook} stopped; its log is kept.")
