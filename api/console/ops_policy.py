"""The tenant's decision policy (tenant admins edit, anyone signed in reads): the overall band,
a band per label and the decision for unknown languages, as a form. Each problem is shown beside
its field; a valid form is saved through the policy route's own function (audited
`tenant.policy`, applied by the workers within `MODSTREAM_POLICY_REFRESH`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.console import session
from api.console.ops_access import REFUSALS, SECTIONS, AdminDep, message_of
from api.console.web import Caller, CallerDep, FormDep, redirect, render
from api.routes import policy
from schemas.policy import PolicyDocument

router = APIRouter(prefix=session.PATH, include_in_schema=False)

PAGE = f"{session.PATH}/operations/policy"
SPARE = 2  # empty label rows offered for new bands
MAX_ROWS = 32


def _rows(document: PolicyDocument) -> list[dict[str, str]]:
    rows = [{"name": k, "low": str(b.low), "high": str(b.high)} for k, b in document.labels.items()]
    return rows + [{"name": "", "low": "", "high": ""} for _ in range(SPARE)]


def _fields(document: PolicyDocument) -> dict[str, Any]:
    toxic = document.toxic
    return {
        "toxic_low": "" if toxic is None else str(toxic.low),
        "toxic_high": "" if toxic is None else str(toxic.high),
        "unknown_language": document.unknown_language.value if document.unknown_language else "",
        "rows": _rows(document),
    }


def _number(value: str, field: str, errors: dict[str, str]) -> float | None:
    try:
        return float(value)
    except ValueError:
        errors[field] = "a number from 0 to 1"
        return None


def parse(form: dict[str, str]) -> tuple[dict[str, Any], PolicyDocument | None, dict[str, str]]:
    """The form as typed, the document it makes (None if it has problems), and each problem by
    field id."""
    errors: dict[str, str] = {}
    typed: dict[str, Any] = {
        "toxic_low": form.get("toxic_low", "").strip(),
        "toxic_high": form.get("toxic_high", "").strip(),
        "unknown_language": form.get("unknown_language", ""),
        "rows": [],
    }
    doc: dict[str, Any] = {"labels": {}}
    if typed["toxic_low"] or typed["toxic_high"]:
        low = _number(typed["toxic_low"], "toxic_low", errors)
        high = _number(typed["toxic_high"], "toxic_high", errors)
        doc["toxic"] = {"low": low, "high": high}
    if typed["unknown_language"]:
        doc["unknown_language"] = typed["unknown_language"]
    where: dict[str, int] = {}
    for i in range(MAX_ROWS):
        row = {k: form.get(f"label_{i}_{k}", "").strip() for k in ("name", "low", "high")}
        if f"label_{i}_name" not in form:
            break
        typed["rows"].append(row)
        if not (row["name"] or row["low"] or row["high"]):
            continue
        if row["name"] in where:
            errors[f"label_{i}_name"] = "this label has a band already"
            continue
        where[row["name"]] = i
        low = _number(row["low"], f"label_{i}_low", errors)
        high = _number(row["high"], f"label_{i}_high", errors)
        doc["labels"][row["name"]] = {"low": low, "high": high}
    typed["rows"] += [{"name": "", "low": "", "high": ""} for _ in range(SPARE)]
    if errors:
        return typed, None, errors
    try:
        return typed, PolicyDocument.model_validate(doc), errors
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(_field_of(e["loc"], where), e["msg"].removeprefix("Value error, "))
        return typed, None, errors


def _field_of(loc: tuple[Any, ...], where: dict[str, int]) -> str:
    """The form field a pydantic error location points at."""
    if loc[:1] == ("toxic",):
        return f"toxic_{loc[1]}" if len(loc) > 1 and loc[1] in ("low", "high") else "toxic_high"
    if loc[:1] == ("labels",) and len(loc) > 1 and loc[1] in where:
        i, part = where[str(loc[1])], loc[2] if len(loc) > 2 else "high"  # low above high
        return f"label_{i}_{part if part in ('low', 'high') else 'name'}"
    return "unknown_language" if loc[:1] == ("unknown_language",) else "form"


def _page(
    request: Request, caller: Caller, fields: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    stored = policy.get_policy(caller.principal, caller.state)
    return render(
        request, "ops_policy.html", caller, section="policy", sections=SECTIONS, stored=stored,
        fields=fields or _fields(stored.policy), errors=errors or {},
        admin="admin" in caller.principal.scopes, decisions=("approve", "review", "reject"),
        error="Fix the fields marked below: nothing was saved." if errors else "",
    )  # fmt: skip


@router.get("/operations/policy")
def policy_page(request: Request, caller: CallerDep) -> Response:
    return _page(request, caller)


@router.post("/operations/policy")
def save(request: Request, caller: AdminDep, form: FormDep) -> Response:
    typed, document, errors = parse(form)
    if document is None:
        return _page(request, caller, typed, errors)
    try:
        policy.set_policy(document, caller.principal, caller.state, caller.ctx)
    except REFUSALS as exc:
        return _page(request, caller, typed, {"form": message_of(exc)})
    return redirect(PAGE, caller.state, ok="Policy saved: the workers apply it within seconds.")


@router.post("/operations/policy/drop")
def drop(caller: AdminDep, form: FormDep) -> Response:
    try:
        policy.delete_policy(caller.principal, caller.state, caller.ctx)
    except REFUSALS as exc:
        return redirect(PAGE, caller.state, error=message_of(exc))
    return redirect(PAGE, caller.state, ok="Your own policy is dropped: the operator's applies.")
