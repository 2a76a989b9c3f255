"""The audit log: every change to accounts, tokens, invites and tenant settings, and every
login, with who, from where and the request id."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts.service.principal import Context
from infra.accounts.models import AuditEntry


def audit(
    session: Session,
    ctx: Context,
    tenant: str | None,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            tenant=tenant,
            actor=actor[:300],
            action=action,
            target=target,
            outcome=outcome,
            request_id=ctx.request_id,
            client=ctx.client,
            detail=detail,
        )
    )


def audit_json(**fields: Any) -> str:
    return json.dumps(fields, default=str, sort_keys=True)


def entries(session: Session, tenant: str, action: str | None, limit: int) -> list[AuditEntry]:
    """A tenant's entries, newest first; only those of `action` if given."""
    query = select(AuditEntry).where(AuditEntry.tenant == tenant)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
