"""Password logins: failures are counted and lock the account after too many in a row.

A refusal is returned, not raised: the failed attempt must be committed (its count, the lock,
the audit entry), and a raise inside `AccountsDB.session()` would roll it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.accounts import security
from api.accounts.service.audit import audit
from api.accounts.service.principal import Context, Principal
from infra.accounts.models import RevokedLogin, Tenant, User
from infra.errors import Forbidden, RateLimited, Refused, Unauthenticated
from infra.settings import AccountsSettings


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User | None = None
    tenant: str | None = None
    refusal: Refused | None = None


def _bad() -> Unauthenticated:
    return Unauthenticated("invalid_credentials", "wrong email or password")


def login(
    session: Session, settings: AccountsSettings, email: str, password: str, ctx: Context
) -> LoginResult:
    """Check a password; count failures and lock the account after too many in a row."""
    now = datetime.now(UTC)
    email = email.strip().lower()
    actor = f"user:{email}"
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        security.verify_password(security.dummy_hash(), password)  # same time as a real check
        audit(session, ctx, None, actor, "login", outcome="refused", detail="unknown")
        return LoginResult(refusal=_bad())
    tenant = session.get(Tenant, user.tenant_id)
    assert tenant is not None
    if user.locked_until and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        audit(session, ctx, tenant.name, actor, "login", outcome="refused", detail="locked")
        return LoginResult(
            refusal=RateLimited(
                "account_locked",
                f"too many failed logins: this account is locked for {wait} more seconds",
                retry_after=wait,
            )
        )
    if not security.verify_password(user.password_hash, password):
        detail = _count_failure(session, settings, user, tenant.name, now, ctx)
        audit(session, ctx, tenant.name, actor, "login", outcome="refused", detail=detail)
        return LoginResult(refusal=_bad())
    if not user.active:
        audit(session, ctx, tenant.name, actor, "login", outcome="refused", detail="disabled")
        return LoginResult(refusal=Forbidden("account_disabled", "this account is disabled"))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    audit(session, ctx, tenant.name, actor, "login")
    return LoginResult(user=user, tenant=tenant.name)


def _count_failure(
    session: Session,
    settings: AccountsSettings,
    user: User,
    tenant: str,
    now: datetime,
    ctx: Context,
) -> str:
    """Count a wrong password, locking the account at the limit; the audit entry's detail."""
    user.failed_logins += 1
    if user.failed_logins < settings.login_max_failures:
        return "wrong password"
    user.locked_until = now + timedelta(seconds=settings.login_lockout)
    user.failed_logins = 0
    audit(
        session,
        ctx,
        tenant,
        f"user:{user.email}",
        "account.lock",
        outcome="ok",
        detail=f"{settings.login_max_failures} failed logins",
    )
    return "wrong password; account locked"


def sign_out(
    session: Session, settings: AccountsSettings, token: str, principal: Principal, ctx: Context
) -> None:
    """Revoke a login token before its expiry: its `jti` is refused from now on (by
    `credentials.resolve`). Revocations of tokens that have expired since are pruned here."""
    now = datetime.now(UTC)
    try:
        claims = security.decode_jwt(settings, token)
    except jwt.InvalidTokenError as exc:  # expired meanwhile: nothing left to revoke
        raise Unauthenticated("invalid_token", "this login token is no longer valid") from exc
    jti, expires = str(claims.get("jti") or ""), datetime.fromtimestamp(int(claims["exp"]), UTC)
    session.execute(delete(RevokedLogin).where(RevokedLogin.expires_at < now))
    if jti and session.get(RevokedLogin, jti) is None:
        session.add(RevokedLogin(jti=jti, expires_at=expires))
    audit(session, ctx, principal.tenant, principal.actor, "logout")
