"""Usage and quotas: request counters per caller and per tenant (total, day, month), and the
tenant's per-minute and per-day quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.accounts.service.principal import Principal
from infra.accounts.models import ApiToken, Tenant, UsageCounter, User
from infra.errors import RateLimited
from infra.settings import AccountsSettings


def count_request(session: Session, settings: AccountsSettings, principal: Principal) -> None:
    """Count one request for the caller (total, today, this month) and their tenant; refuse it
    (`RateLimited`) when the tenant is over its per-minute or per-day quota. Runs in the
    caller's transaction: a refused request rolls its own increments back."""
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
        raise RateLimited(
            "quota_exceeded",
            f"tenant {principal.tenant!r} is over its quota of {per_minute} requests a minute",
            retry_after=60 - now.second,
        )
    if per_day and counts[(tenant_subject, day)] > per_day:
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        raise RateLimited(
            "quota_exceeded",
            f"tenant {principal.tenant!r} is over its quota of {per_day} requests a day",
            retry_after=int((midnight - now).total_seconds()) + 1,
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


def visible_subjects(session: Session, principal: Principal) -> dict[str, str]:
    """{subject: name} of the users and tokens whose usage the caller may see: every one of
    the tenant for an admin, else themselves and their own tokens."""
    users = select(User).where(User.tenant_id == principal.tenant_id)
    tokens = select(ApiToken).where(ApiToken.tenant_id == principal.tenant_id)
    if "admin" not in principal.scopes:
        users = users.where(User.id == principal.user_id)
        tokens = tokens.where(
            (ApiToken.user_id == principal.user_id)
            if principal.user_id is not None
            else (ApiToken.id == principal.token_id)
        )
    names = {f"user:{u.id}": u.email for u in session.scalars(users.order_by(User.id))}
    names |= {f"token:{t.id}": t.name for t in session.scalars(tokens.order_by(ApiToken.id))}
    return names
