"""Each tenant's rule sets, as its admins save them: checked and compiled (examples included)
before they are stored, versioned, never changed once stored; a rollback stores an older text
as the newest version. Stream workers read the newest (`infra.accounts.rules`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.accounts.service.audit import audit, audit_json
from api.accounts.service.principal import Context, Principal
from infra.accounts.models import TenantRules
from infra.errors import NotFound
from infra.rules.compile import RuleSet, compile_rules


def current_rules(session: Session, tenant_id: int) -> TenantRules | None:
    return session.scalars(
        select(TenantRules)
        .where(TenantRules.tenant_id == tenant_id)
        .order_by(TenantRules.version.desc())
        .limit(1)
    ).first()


def rule_versions(session: Session, tenant_id: int, limit: int = 100) -> list[TenantRules]:
    """Newest first."""
    return list(
        session.scalars(
            select(TenantRules)
            .where(TenantRules.tenant_id == tenant_id)
            .order_by(TenantRules.version.desc())
            .limit(limit)
        )
    )


def save_rules(
    session: Session, principal: Principal, source: str, note: str, ctx: Context
) -> tuple[TenantRules, RuleSet]:
    """Store `source` as the tenant's newest version; raises `InvalidRules` (nothing stored)
    if it does not compile or an example does not pass."""
    compiled = compile_rules(source)
    newest = session.scalar(
        select(func.max(TenantRules.version)).where(TenantRules.tenant_id == principal.tenant_id)
    )
    row = TenantRules(
        tenant_id=principal.tenant_id,
        version=(newest or 0) + 1,
        source=source,
        note=note[:300],
        created_by=principal.actor,
    )
    session.add(row)
    names = [r.name for r in compiled.rules]
    audit(
        session, ctx, principal.tenant, principal.actor, "tenant.rules",
        target=f"tenant:{principal.tenant}",
        detail=audit_json(version=row.version, note=row.note, rules=names),
    )  # fmt: skip
    session.flush()
    return row, compiled


def rollback_rules(
    session: Session, principal: Principal, version: int, ctx: Context
) -> tuple[TenantRules, RuleSet]:
    """Store version `version`'s text again, as the newest version."""
    old = session.scalar(
        select(TenantRules).where(
            TenantRules.tenant_id == principal.tenant_id, TenantRules.version == version
        )
    )
    if old is None:
        raise NotFound("no_such_version", f"your tenant has no rules version {version}")
    return save_rules(session, principal, old.source, f"rollback to version {version}", ctx)
