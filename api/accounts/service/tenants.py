"""Tenants: created by the operator or by an open registration; their privacy mode."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts.service.audit import audit, audit_json
from api.accounts.service.principal import Context, Principal
from infra.accounts.models import Tenant
from infra.errors import Conflict, InvalidInput, NotFound

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


def create_tenant(session: Session, name: str, *, privacy_mode: bool = False) -> Tenant:
    if not re.match(TENANT_PATTERN, name):
        raise InvalidInput("invalid_tenant", "a tenant name is 1-64 letters, digits, _ . -")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise Conflict("tenant_taken", f"tenant {name!r} exists")
    tenant = Tenant(name=name, privacy_mode=privacy_mode)
    session.add(tenant)
    session.flush()
    return tenant


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound("not_found", f"no tenant {name!r}")
    return tenant


def tenant_of(session: Session, principal: Principal) -> Tenant:
    """The caller's own tenant (it exists: the credential was resolved against it)."""
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    return tenant


def set_privacy(session: Session, principal: Principal, on: bool, ctx: Context) -> Tenant:
    tenant = tenant_of(session, principal)
    before = tenant.privacy_mode
    tenant.privacy_mode = on
    audit(
        session,
        ctx,
        tenant.name,
        principal.actor,
        "tenant.privacy",
        target=f"tenant:{tenant.name}",
        detail=audit_json(before=before, after=on),
    )
    return tenant
