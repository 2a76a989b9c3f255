"""What accounts do: tenants, users, logins, API tokens, invitation codes, usage and the audit
log. Plain functions over a SQLAlchemy `Session`, used by the routes and by `modstream admin`.

Refusals are `ApiError`s. A refusal raised inside `AccountsDB.session()` rolls the transaction
back, which is what registration wants (an invite use is undone with the rest); where a refusal
must leave a trace (a failed login counts), the function returns it instead of raising.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.accounts import security
from api.errors import ApiError, unauthenticated
from infra.accounts.models import (
    ApiToken,
    AuditEntry,
    Invite,
    Lock,
    Tenant,
    UsageCounter,
    User,
)
from infra.settings import AccountsSettings

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
MIN_PASSWORD = 12


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant they act for (decided here, nowhere else), their scopes, and
    the user and/or token behind the request."""

    tenant: str
    tenant_id: int
    scopes: frozenset[str]
    user_id: int | None = None
    email: str | None = None
    role: str | None = None
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.email}"

    @property
    def subject(self) -> str:
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"

    @property
    def is_session(self) -> bool:
        """Signed in with a password (a login JWT), not an API token."""
        return self.token_id is None


@dataclass(frozen=True, slots=True)
class Context:
    """Where an action came from, for the audit log."""

    request_id: str | None = None
    client: str | None = None


CLI = Context(request_id=None, client="cli")


# --- tenants and users --------------------------------------------------------------------


def create_tenant(session: Session, name: str, *, privacy_mode: bool = False) -> Tenant:
    if not re.match(TENANT_PATTERN, name):
        raise ApiError(422, "invalid_tenant", "a tenant name is 1-64 letters, digits, _ . -")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise ApiError(409, "tenant_taken", f"tenant {name!r} exists")
    tenant = Tenant(name=name, privacy_mode=privacy_mode)
    session.add(tenant)
    session.flush()
    return tenant


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise ApiError(404, "not_found", f"no tenant {name!r}")
    return tenant


def check_credentials(email: str, password: str) -> str:
    """The normalised email; refuses malformed emails and short passwords."""
    email = email.strip().lower()
    if len(email) > 254 or not re.match(EMAIL_PATTERN, email):
        raise ApiError(422, "invalid_email", "not an email address")
    if len(password) < MIN_PASSWORD:
        raise ApiError(422, "weak_password", f"a password has at least {MIN_PASSWORD} characters")
    return email


def create_user(
    session: Session, tenant: Tenant, email: str, password_hash: str, role: str
) -> User:
    if role not in security.ROLE_SCOPES:
        raise ApiError(422, "invalid_role", f"role is one of {', '.join(security.ROLE_SCOPES)}")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ApiError(409, "email_taken", "an account with this email exists")
    user = User(tenant_id=tenant.id, email=email, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    return user


# --- login --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User | None = None
    tenant: str | None = None
    refusal: ApiError | None = None


def login(
    session: Session, settings: AccountsSettings, email: str, password: str, ctx: Context
) -> LoginResult:
    """Check a password; count failures and lock the account after too many in a row."""
    now = datetime.now(UTC)
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    bad = ApiError(401, "invalid_credentials", "wrong email or password")
    if user is None:
        security.verify_password(security.dummy_hash(), password)  # same time as a real check
        audit(session, ctx, None, f"user:{email}", "login", outcome="refused", detail="unknown")
        return LoginResult(refusal=bad)
    tenant = session.get(Tenant, user.tenant_id)
    assert tenant is not None
    if user.locked_until and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        audit(
            session, ctx, tenant.name, f"user:{email}", "login", outcome="refused", detail="locked"
        )
        return LoginResult(
            refusal=ApiError(
                429,
                "account_locked",
                f"too many failed logins: this account is locked for {wait} more seconds",
                headers={"Retry-After": str(wait)},
            )
        )
    if not security.verify_password(user.password_hash, password):
        user.failed_logins += 1
        detail = "wrong password"
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(seconds=settings.login_lockout)
            user.failed_logins = 0
            detail = "wrong password; account locked"
            audit(
                session,
                ctx,
                tenant.name,
                f"user:{email}",
                "account.lock",
                outcome="ok",
                detail=f"{settings.login_max_failures} failed logins",
            )
        audit(session, ctx, tenant.name, f"user:{email}", "login", outcome="refused", detail=detail)
        return LoginResult(refusal=bad)
    if not user.active:
        audit(
            session,
            ctx,
            tenant.name,
            f"user:{email}",
            "login",
            outcome="refused",
            detail="disabled",
        )
        return LoginResult(refusal=ApiError(403, "account_disabled", "this account is disabled"))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    audit(session, ctx, tenant.name, f"user:{email}", "login")
    return LoginResult(user=user, tenant=tenant.name)


# --- registration -------------------------------------------------------------------------


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
    """Create an account: with an invitation code (its tenant and role), or, when registration
    is open, with a new tenant of which the user is the admin. Serialised by a lock row, so the
    user limit and an invite's uses hold under concurrency; any refusal rolls it all back."""
    if settings.registration == "closed":
        raise ApiError(403, "registration_closed", "registration is closed: ask an administrator")
    session.execute(update(Lock).where(Lock.name == "registration").values(n=Lock.n + 1))
    if settings.max_users:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        if users >= settings.max_users:
            raise ApiError(
                403,
                "user_limit_reached",
                f"the user limit ({settings.max_users}) is reached",
            )
    if invite_code:
        invite = _consume_invite(session, invite_code)
        tenant = session.get(Tenant, invite.tenant_id)
        assert tenant is not None
        role = invite.role
    elif settings.registration == "invite":
        raise ApiError(400, "invite_required", "registration needs an invitation code")
    else:
        if not tenant_name:
            raise ApiError(422, "tenant_required", "name the tenant to create (or use an invite)")
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


def _consume_invite(session: Session, code: str) -> Invite:
    now = datetime.now(UTC)
    invite = session.scalar(select(Invite).where(Invite.code_hash == security.digest(code)))
    if invite is None:
        raise ApiError(400, "invite_invalid", "this invitation code does not exist")
    if not invite.active:
        raise ApiError(403, "invite_inactive", "this invitation code has been deactivated")
    if invite.expires_at is not None and invite.expires_at <= now:
        raise ApiError(403, "invite_expired", "this invitation code has expired")
    if invite.uses >= invite.max_uses:
        raise ApiError(403, "invite_used_up", "this invitation code has been used up")
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
        raise ApiError(403, "invite_used_up", "this invitation code has been used up")
    return invite


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
    if role not in security.ROLE_SCOPES:
        raise ApiError(422, "invalid_role", f"role is one of {', '.join(security.ROLE_SCOPES)}")
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


# --- API tokens ---------------------------------------------------------------------------


def create_token(
    session: Session,
    settings: AccountsSettings,
    tenant: Tenant,
    *,
    name: str,
    scopes: frozenset[str],
    user_id: int | None,
    expires_at: datetime | None,
    actor: str,
    ctx: Context,
) -> tuple[ApiToken, str]:
    """A new token; its secret is returned here and never again (only its digest is kept)."""
    secret = security.new_secret(settings.token_prefix)
    token = ApiToken(
        tenant_id=tenant.id,
        user_id=user_id,
        name=name,
        token_hash=security.digest(secret),
        hint=secret[: len(settings.token_prefix) + 4],
        scopes=" ".join(sorted(scopes)),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit(
        session,
        ctx,
        tenant.name,
        actor,
        "token.create",
        target=f"token:{token.id}",
        detail=json.dumps({"name": name, "scopes": sorted(scopes)}),
    )
    return token, secret


def revoke_token(session: Session, token: ApiToken, tenant: str, actor: str, ctx: Context) -> None:
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
    audit(session, ctx, tenant, actor, "token.revoke", target=f"token:{token.id}")


# --- who is calling -----------------------------------------------------------------------


def resolve(session: Session, settings: AccountsSettings, credential: str) -> Principal:
    """The principal behind a bearer credential (an API token or a login JWT), or a 401."""
    now = datetime.now(UTC)
    if credential.startswith(settings.token_prefix):
        token = session.scalar(
            select(ApiToken).where(ApiToken.token_hash == security.digest(credential))
        )
        if token is None:
            raise _invalid("this API token is not valid")
        if token.revoked_at is not None:
            raise _invalid("this API token has been revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise _invalid("this API token has expired")
        tenant = session.get(Tenant, token.tenant_id)
        user = session.get(User, token.user_id) if token.user_id is not None else None
        if tenant is None or (token.user_id is not None and (user is None or not user.active)):
            raise _invalid("the owner of this API token is disabled")
        token.last_used_at = now
        return Principal(
            tenant=tenant.name,
            tenant_id=tenant.id,
            scopes=token.scope_set,
            user_id=token.user_id,
            email=user.email if user else None,
            role=user.role if user else None,
            token_id=token.id,
        )
    try:
        claims = security.decode_jwt(settings, credential)
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("the login token has expired: sign in again") from exc
    except jwt.InvalidTokenError as exc:
        raise _invalid("the credential is neither a valid API token nor a login token") from exc
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise _invalid("the login token names no user") from exc
    found = session.get(User, user_id)
    tenant = session.get(Tenant, found.tenant_id) if found else None
    if found is None or tenant is None or not found.active or claims.get("tid") != tenant.name:
        raise _invalid("the account behind this login token is gone or disabled")
    return Principal(
        tenant=tenant.name,
        tenant_id=tenant.id,
        scopes=security.ROLE_SCOPES[found.role],
        user_id=found.id,
        email=found.email,
        role=found.role,
    )


def _invalid(message: str) -> ApiError:
    return unauthenticated("invalid_token", message)


# --- usage and quotas ---------------------------------------------------------------------


def count_request(session: Session, settings: AccountsSettings, principal: Principal) -> None:
    """Count one request for the caller (total, today, this month) and their tenant; refuse it
    with 429 and `Retry-After` when the tenant is over its per-minute or per-day quota. Runs in
    the caller's transaction: a refused request rolls its own increments back."""
    now = datetime.now(UTC)
    day, month, minute = (
        now.strftime("d:%Y-%m-%d"),
        now.strftime("m:%Y-%m"),
        now.strftime("min:%Y-%m-%dT%H:%M"),
    )
    tenant_subject = f"tenant:{principal.tenant}"
    keys = [(principal.subject, p) for p in ("total", day, month)]
    keys += [(tenant_subject, p) for p in ("total", day, month, minute)]
    counts = _increment(session, principal.tenant, keys)
    tenant = session.get(Tenant, principal.tenant_id)
    per_minute = (tenant.quota_per_minute if tenant else None) or settings.quota_per_minute
    per_day = (tenant.quota_per_day if tenant else None) or settings.quota_per_day
    if per_minute and counts[(tenant_subject, minute)] > per_minute:
        wait = 60 - now.second
        raise ApiError(
            429,
            "quota_exceeded",
            f"tenant {principal.tenant!r} is over its quota of {per_minute} requests a minute",
            headers={"Retry-After": str(wait)},
        )
    if per_day and counts[(tenant_subject, day)] > per_day:
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        wait = int((midnight - now).total_seconds()) + 1
        raise ApiError(
            429,
            "quota_exceeded",
            f"tenant {principal.tenant!r} is over its quota of {per_day} requests a day",
            headers={"Retry-After": str(wait)},
        )


def _increment(
    session: Session, tenant: str, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Add one to each (subject, period) counter with a single upsert; their new values."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = [{"tenant": tenant, "subject": s, "period": p, "count": 1} for s, p in keys]
    upsert = (
        insert(UsageCounter)
        .values(values)
        .on_conflict_do_update(
            index_elements=["subject", "period"], set_={"count": UsageCounter.count + 1}
        )
        .returning(UsageCounter.subject, UsageCounter.period, UsageCounter.count)
    )
    return {(s, p): c for s, p, c in session.execute(upsert)}


def usage_of(session: Session, subjects: list[str]) -> dict[str, dict[str, int]]:
    """{subject: {"total", "today", "month"}} for these subjects."""
    now = datetime.now(UTC)
    periods = {
        "total": "total",
        now.strftime("d:%Y-%m-%d"): "today",
        now.strftime("m:%Y-%m"): "month",
    }
    out = {s: dict.fromkeys(("total", "today", "month"), 0) for s in subjects}
    if not subjects:
        return out
    rows = session.execute(
        select(UsageCounter.subject, UsageCounter.period, UsageCounter.count).where(
            UsageCounter.subject.in_(subjects), UsageCounter.period.in_(list(periods))
        )
    )
    for subject, period, n in rows:
        out[subject][periods[period]] = n
    return out


# --- audit log ----------------------------------------------------------------------------


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
