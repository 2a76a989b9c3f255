"""The rules page (docs/rules.md): the rule set in force in an editor that is checked as you type
(`rules.js` posts the text to `/console/rules/validate`, the validate route's own function, and
shows each problem's line, column and reason), a backtest preview of the draft over stored
verdicts before saving, the shadow rules against live outcomes, and the version history with
rollback. Saving and rolling back are for the tenant's admins and go through the rules routes'
own functions (checked, examples run, versioned, audited `tenant.rules`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from api.console import session
from api.console.ops_access import REFUSALS, AdminDep, ReaderDep, message_of
from api.console.web import HEADERS, Caller, FormDep, redirect, render
from api.routes import rules
from infra.errors import InvalidRules, RuleProblem, WarehouseError
from infra.rules.syntax import MAX_SOURCE_CHARS

router = APIRouter(prefix=session.PATH, include_in_schema=False)

PAGE = f"{session.PATH}/rules"
SHADOW_DAYS = 7


def _days(value: str) -> int:
    try:
        return min(max(int(value), 1), 90)
    except ValueError:
        return 7


@dataclass(frozen=True, slots=True)
class Draft:
    """What the editor held when its form was posted: shown again, whatever happened."""

    source: str
    note: str = ""
    days: int = 7
    mode: Literal["replace", "add"] = "replace"


def _page(
    request: Request, caller: Caller, draft: Draft | None = None, *,
    problems: list[RuleProblem] | None = None, report: Any = None, error: str = "",
) -> Response:  # fmt: skip
    principal, state = caller.principal, caller.state
    stored = rules.get_rules(principal, state)
    versions = rules.list_versions(principal, state, 50)
    try:
        shadow: Any = rules.compare_shadow(principal, state, SHADOW_DAYS)
    except WarehouseError:
        shadow = None
    return render(
        request, "rules.html", caller, stored=stored, versions=versions, shadow=shadow,
        draft=draft or Draft(stored.source), drafting=draft is not None, problems=problems or [],
        report=report, error=error, max_chars=MAX_SOURCE_CHARS, admin="admin" in principal.scopes,
    )  # fmt: skip


@router.get("/rules")
def rules_page(request: Request, caller: ReaderDep) -> Response:
    return _page(request, caller)


@router.post("/rules/validate")
def validate(caller: ReaderDep, form: FormDep) -> Response:
    """For the editor, as you type: `{valid, problems: [{line, column, reason}], summary}`."""
    source = form.get("source", "")
    if len(source) > MAX_SOURCE_CHARS:
        problem = RuleProblem(1, 1, f"the rule set is longer than {MAX_SOURCE_CHARS} characters")
        found = rules.Validation(valid=False, problems=[problem])
    else:
        found = rules.validate_rules(rules.SourceInput(source=source), caller.principal)
    return JSONResponse(found.model_dump(mode="json"), headers=HEADERS)


@router.post("/rules/backtest")
def backtest(request: Request, caller: ReaderDep, form: FormDep) -> Response:
    """The draft over the last `days` of stored verdicts: what would change. Nothing is saved."""
    draft = Draft(
        form.get("source", ""), form.get("note", ""), _days(form.get("days", "7")),
        "add" if form.get("mode") == "add" else "replace",
    )  # fmt: skip
    try:
        body = rules.BacktestInput(source=draft.source, days=draft.days, mode=draft.mode)
        report = rules.run_backtest(body, caller.principal, caller.state)
    except InvalidRules as exc:
        return _page(request, caller, draft, problems=exc.problems)
    except (ValidationError, *REFUSALS) as exc:
        return _page(request, caller, draft, error=message_of(exc))
    return _page(request, caller, draft, report=report)


@router.post("/rules")
def save(request: Request, caller: AdminDep, form: FormDep) -> Response:
    draft = Draft(form.get("source", ""), form.get("note", "")[:300])
    try:
        body = rules.RulesInput(source=draft.source, note=draft.note)
        stored = rules.save_rules(body, caller.principal, caller.state, caller.ctx)
    except InvalidRules as exc:
        return _page(request, caller, draft, problems=exc.problems)
    except (ValidationError, *REFUSALS) as exc:
        return _page(request, caller, draft, error=message_of(exc))
    return redirect(PAGE, caller.state, ok=f"Saved as version {stored.version}: the workers "
                    "apply it within seconds.")  # fmt: skip


@router.post("/rules/rollback")
def rollback(caller: AdminDep, form: FormDep) -> Response:
    try:
        body = rules.RollbackInput(version=int(form.get("version", "")))
        stored = rules.rollback(body, caller.principal, caller.state, caller.ctx)
    except (ValueError, *REFUSALS) as exc:  # a ValidationError is a ValueError
        text = message_of(exc) if type(exc) is not ValueError else "Choose a version."
        return redirect(PAGE, caller.state, error=text)
    return redirect(PAGE, caller.state, ok=f"Version {body.version} is back in force, as "
                    f"version {stored.version}.")  # fmt: skip
