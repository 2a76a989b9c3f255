"""The caller's tenant's rules (docs/rules.md): validate, save (versioned), roll back, backtest
over stored verdicts, and compare shadow rules with live outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.accounts.service import rules as rule_service
from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import responses
from api.read.rules import ShadowComparison, shadow_comparison
from infra.accounts.models import TenantRules
from infra.errors import InvalidRules, RuleProblem
from infra.rules.backtest import BacktestReport, backtest
from infra.rules.compile import RuleSet, compile_rules
from infra.rules.syntax import MAX_SOURCE_CHARS

router = APIRouter(prefix="/v1/tenant/rules", tags=["rules"])

EXAMPLE_SOURCE = """counter links = count by author within 10m where spans == 0

rule link_flood:
    when links >= 10 and author.items < 20
    then reject, label "spam", queue "priority"
    example fires: links = 12, author.items = 3
    example skips: links = 12, author.items = 500

shadow rule strict_insults:
    when scores.insult > 0.6
    then review
"""


class RulesInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source": EXAMPLE_SOURCE, "note": "link floods"}]},
    )

    source: str = Field(max_length=MAX_SOURCE_CHARS, description="The whole rule set.")
    note: str = Field(default="", max_length=300, description="Why it changed (kept with it).")


class SourceInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"source": EXAMPLE_SOURCE}]}
    )

    source: str = Field(max_length=MAX_SOURCE_CHARS)


class BacktestInput(SourceInput):
    days: int = Field(default=7, ge=1, le=90, description="How far back to replay.")
    mode: Literal["replace", "add"] = Field(
        default="replace",
        description="`replace`: the source is the whole new rule set; `add`: its rules are "
        "added to those in force.",
    )


class RuleSummary(BaseModel):
    name: str
    version: str
    shadow: bool
    actions: list[str]


class Summary(BaseModel):
    rules: list[RuleSummary]
    counters: list[str]


class StoredRules(Summary):
    version: int = Field(description="0: no rules saved yet.")
    source: str
    note: str
    created_at: datetime | None
    created_by: str | None


class Validation(BaseModel):
    valid: bool
    problems: list[RuleProblem] = Field(description="Each with its line, column and reason.")
    summary: Summary | None = None


class VersionEntry(BaseModel):
    version: int
    note: str
    created_at: datetime
    created_by: str


def _summary(compiled: RuleSet) -> Summary:
    return Summary(
        rules=[
            RuleSummary(
                name=r.name, version=r.version, shadow=r.shadow,
                actions=[f"{a.kind} {a.value}".strip() for a in r.actions],
            )
            for r in compiled.rules
        ],
        counters=[c.name for c in compiled.counters],
    )  # fmt: skip


def _stored(row: TenantRules | None, compiled: RuleSet | None = None) -> StoredRules:
    if row is None:
        return StoredRules(
            version=0, source="", note="", created_at=None, created_by=None, rules=[], counters=[]
        )
    summary = _summary(compiled or compile_rules(row.source, row.version))
    return StoredRules(
        version=row.version, source=row.source, note=row.note, created_at=row.created_at,
        created_by=row.created_by, rules=summary.rules, counters=summary.counters,
    )  # fmt: skip


@router.get(
    "",
    response_model=StoredRules,
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's rules in force",
)
def get_rules(principal: Reader, state: StateDep) -> StoredRules:
    with state.accounts.session() as session:
        return _stored(rule_service.current_rules(session, principal.tenant_id))


@router.put(
    "",
    response_model=StoredRules,
    responses=responses(401, 403, 422, 429, 503),
    summary="Save a new version of your tenant's rules (tenant admins)",
    description="The whole rule set, in the rule language (docs/rules.md). It is checked and "
    "every `example` it carries is run before it is stored; a problem answers 422 with each "
    "problem's line, column and reason, and nothing is stored. Stream workers apply the new "
    "version within `MODSTREAM_POLICY_REFRESH` seconds. Audited.",
)
def save_rules(
    body: RulesInput, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> StoredRules:
    with state.accounts.session() as session:
        row, compiled = rule_service.save_rules(session, principal, body.source, body.note, ctx)
        return _stored(row, compiled)


@router.post(
    "/validate",
    response_model=Validation,
    responses=responses(401, 403, 422, 429),
    summary="Check a rule set without saving it (for an editor: as you type)",
)
def validate_rules(body: SourceInput, principal: Reader) -> Validation:
    try:
        compiled = compile_rules(body.source)
    except InvalidRules as exc:
        return Validation(valid=False, problems=exc.problems)
    return Validation(valid=True, problems=[], summary=_summary(compiled))


@router.get(
    "/versions",
    response_model=list[VersionEntry],
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's rule versions, newest first",
)
def list_versions(
    principal: Reader, state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[VersionEntry]:
    with state.accounts.session() as session:
        rows = rule_service.rule_versions(session, principal.tenant_id, limit)
        return [
            VersionEntry(
                version=r.version, note=r.note, created_at=r.created_at, created_by=r.created_by
            )
            for r in rows
        ]


class RollbackInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 3}]})

    version: int = Field(ge=1)


@router.post(
    "/rollback",
    response_model=StoredRules,
    status_code=status.HTTP_200_OK,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Put an older version back in force, as a new version (tenant admins)",
)
def rollback(
    body: RollbackInput, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> StoredRules:
    with state.accounts.session() as session:
        row, compiled = rule_service.rollback_rules(session, principal, body.version, ctx)
        return _stored(row, compiled)


@router.post(
    "/backtest",
    response_model=BacktestReport,
    responses=responses(401, 403, 422, 429, 503),
    summary="Run a rule set over your stored verdicts: what would have changed",
    description="Counts by decision change, by action, by label and by rule, and examples. "
    "Rules that read the text, its link or its content hash cannot be backtested (verdicts do "
    "not store them): 422 names where.",
)
def run_backtest(body: BacktestInput, principal: Reader, state: StateDep) -> BacktestReport:
    return backtest(state.warehouse, principal.tenant, body.source, days=body.days, mode=body.mode)


@router.get(
    "/shadow",
    response_model=ShadowComparison,
    responses=responses(401, 403, 422, 429, 503),
    summary="Shadow rules against live outcomes",
    description="Per shadow rule: the items it would have fired on, how many would have had "
    "another decision (`live>shadow` pairs), and example event ids.",
)
def compare_shadow(
    principal: Reader, state: StateDep, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> ShadowComparison:
    return shadow_comparison(state.warehouse, principal.tenant, days)
