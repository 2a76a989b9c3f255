"""Invitation codes: made by tenant admins (shown once, stored as a digest), used up by
registrations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.accounts import security
from api.accounts.service.audit import audit
from api.accounts.service.principal import Context, Principal
from api.accounts.service.users import check_role
from infra.accounts.models import Invite, Tenant
from infra.errors import Forbidden, NotFound, Rejected


def create_invite(
    session: Session,
    tenant: Tenant,
    *,
    role: str,
    max_uses: int,
    expires_at: datetime | None,
    actor: str,
    ctx: Context,
) -> tuple[Invite, str]:
    check_role(role)
    code = security.new_secret(security.INVITE_PREFIX)
    invite = Invite(
        tenant_id=tenant.id,
        code_hash=security.digest(code),
        hint=code[:8],
        role=role,
        max_uses=max_uses,
        expires_at=expires_at,
        created_by=actor,
    )
    session.add(invite)
    session.flush()
    audit(
        session,
        ctx,
        tenant.name,
        actor,
        "invite.create",
        target=f"invite:{invite.id}",
        detail=json.dumps({"role": role, "max_uses": max_uses}),
    )
    return invite, code


def consume_invite(session: Session, code: str) -> Invite:
    """The invite of `code`, with one more use counted; refused if it cannot be used."""
    now = datetime.now(UTC)
    invite = session.scalar(select(Invite).where(Invite.code_hash == security.digest(code)))
    if invite is None:
        raise Rejected("invite_invalid", "this invitation code does not exist")
    if not invite.active:
        raise Forbidden("invite_inactive", "this invitation code has been deactivated")
    if invite.expires_at is not None and invite.expires_at <= now:
        raise Forbidden("invite_expired", "this invitation code has expired")
    if invite.uses >= invite.max_uses:
        raise Forbidden("invite_used_up", "this invitation code has been used up")
    consumed = session.execute(  # atomic: the conditions are checked by the update itself
        update(Invite)
        .where(
            Invite.id == invite.id,
            Invite.active.is_(True),
            Invite.uses < Invite.max_uses,
            (Invite.expires_at.is_(None)) | (Invite.expires_at > now),
        )
        .values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:
        raise Forbidden("invite_used_up", "this invitation code has been used up")
    return invite


def invites_of(session: Session, tenant_id: int) -> list[Invite]:
    query = select(Invite).where(Invite.tenant_id == tenant_id).order_by(Invite.id)
    return list(session.scalars(query))


def owned_invite(session: Session, tenant_id: int, invite_id: int) -> Invite:
    """The invite if it is the tenant's; another tenant's is not found, like a missing one."""
    invite = session.get(Invite, invite_id)
    if invite is None or invite.tenant_id != tenant_id:
        raise NotFound("not_found", f"no invite {invite_id}")
    return invite


def deactivate_invite(session: Session, invite_id: int, principal: Principal, ctx: Context) -> None:
    found = owned_invite(session, principal.tenant_id, invite_id)
    found.active = False
    audit(
        session,
        ctx,
        principal.tenant,
        principal.actor,
        "invite.deactivate",
        target=f"invite:{invite_id}",
    )
