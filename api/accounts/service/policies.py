"""Each tenant's own decision policy, as its admins set it; stream workers read it from the
accounts store (`infra.accounts.policies`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.accounts.service.audit import audit, audit_json
from api.accounts.service.principal import Context, Principal
from infra.accounts.models import TenantPolicy, utcnow
from schemas.policy import PolicyDocument


def stored_policy(session: Session, tenant_id: int) -> TenantPolicy | None:
    return session.get(TenantPolicy, tenant_id)


def document_of(row: TenantPolicy | None) -> PolicyDocument:
    """The tenant's own document; an empty one (everything from the operator's) if none."""
    return PolicyDocument() if row is None else PolicyDocument.model_validate_json(row.document)


def set_policy(
    session: Session, principal: Principal, document: PolicyDocument, ctx: Context
) -> TenantPolicy:
    """Replace the tenant's whole policy."""
    row = session.get(TenantPolicy, principal.tenant_id)
    before = document_of(row)
    if row is None:
        row = TenantPolicy(tenant_id=principal.tenant_id)
        session.add(row)
    row.document = document.model_dump_json(exclude_defaults=True)
    row.updated_by = principal.actor
    row.updated_at = utcnow()
    _audit(session, ctx, principal, before, document)
    session.flush()
    return row


def drop_policy(session: Session, principal: Principal, ctx: Context) -> None:
    """Drop the tenant's own policy: the operator's applies again."""
    row = session.get(TenantPolicy, principal.tenant_id)
    if row is not None:
        _audit(session, ctx, principal, document_of(row), PolicyDocument())
        session.delete(row)


def _audit(
    session: Session,
    ctx: Context,
    principal: Principal,
    before: PolicyDocument,
    after: PolicyDocument,
) -> None:
    audit(
        session,
        ctx,
        principal.tenant,
        principal.actor,
        "tenant.policy",
        target=f"tenant:{principal.tenant}",
        detail=audit_json(
            before=before.model_dump(exclude_defaults=True),
            after=after.model_dump(exclude_defaults=True),
        ),
    )
