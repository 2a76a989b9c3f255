"""Registration: with an invitation code (its tenant and role), or, when registration is open,
with a new tenant of which the user is the admin."""

from __future__ import annotations

import json

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.accounts.service.audit import audit
from api.accounts.service.invites import consume_invite
from api.accounts.service.principal import Context
from api.accounts.service.tenants import create_tenant
from api.accounts.service.users import create_user
from infra.accounts.models import Lock, Tenant, User
from infra.errors import Forbidden, InvalidInput, Rejected
from infra.settings import AccountsSettings


def register(
    session: Session,
    settings: AccountsSettings,
    *,
    email: str,
    password_hash: str,
    invite_code: str | None,
    tenant_name: str | None,
    ctx: Context,
) -> tuple[User, Tenant]:
    """Create an account. Serialised by a lock row, so the user limit and an invite's uses hold
    under concurrency; a refusal raised inside `AccountsDB.session()` rolls it all back (an
    invite use included)."""
    if settings.registration == "closed":
        raise Forbidden("registration_closed", "registration is closed: ask an administrator")
    session.execute(update(Lock).where(Lock.name == "registration").values(n=Lock.n + 1))
    if settings.max_users:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        if users >= settings.max_users:
            raise Forbidden(
                "user_limit_reached", f"the user limit ({settings.max_users}) is reached"
            )
    if invite_code:
        invite = consume_invite(session, invite_code)
        tenant = session.get(Tenant, invite.tenant_id)
        assert tenant is not None
        role = invite.role
    elif settings.registration == "invite":
        raise Rejected("invite_required", "registration needs an invitation code")
    else:
        if not tenant_name:
            raise InvalidInput("tenant_required", "name the tenant to create (or use an invite)")
        tenant = create_tenant(session, tenant_name)
        role = "admin"
    user = create_user(session, tenant, email, password_hash, role)
    audit(
        session,
        ctx,
        tenant.name,
        f"user:{email}",
        "user.register",
        target=f"user:{user.id}",
        detail=json.dumps({"role": role, "invite": bool(invite_code)}),
    )
    return user, tenant
