"""Usage and quotas: request counters per caller and per tenant (total, day, month), and the
tenant's per-minute and per-day quotas. The API counts in memory and writes the counters here
in batches (`api/accounts/meter.py`); these are the store's side of it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.accounts.service.principal import Principal
from infra.accounts.models import ApiToken, Tenant, UsageCounter, User
from infra.errors import RateLimited
from infra.settings import AccountsSettings

Counter = tuple[str, str, str]
"""(tenant, subject, period): one row of the `usage` table."""

UPSERT_ROWS = 500  # rows per statement: 4 parameters each, well inside SQLite's limit


@dataclass(frozen=True, slots=True)
class Periods:
    """The periods a request at `now` counts in (the `usage` table's `period` values)."""

    day: str
    month: str
    minute: str

    @classmethod
    def at(cls, now: datetime) -> Periods:
        return cls(
            now.strftime("d:%Y-%m-%d"), now.strftime("m:%Y-%m"), now.strftime("min:%Y-%m-%dT%H:%M")
        )


@dataclass(frozen=True, slots=True)
class Quota:
    """A tenant's limits (None: none)."""

    per_minute: int | None
    per_day: int | None


def counters_of(principal: Principal, periods: Periods) -> list[Counter]:
    """The counters one request of `principal` adds one to: the caller's total, day and month,
    and the tenant's total, day, month and minute."""
    tenant, subject = principal.tenant, f"tenant:{principal.tenant}"
    return [(tenant, principal.subject, p) for p in ("total", periods.day, periods.month)] + [
        (tenant, subject, p) for p in ("total", periods.day, periods.month, periods.minute)
    ]


def quota_of(session: Session, settings: AccountsSettings, principal: Principal) -> Quota:
    """The tenant's quotas, else the operator's defaults."""
    tenant = session.get(Tenant, principal.tenant_id)
    return Quota(
        (tenant.quota_per_minute if tenant else None) or settings.quota_per_minute or None,
        (tenant.quota_per_day if tenant else None) or settings.quota_per_day or None,
    )


def check_quota(tenant: str, quota: Quota, minute: int, day: int, now: datetime) -> None:
    """Refuse (`RateLimited`, with the seconds to wait) a request that would take the tenant's
    count this minute or today (`minute`, `day`: the counts before it) over its quota."""
    if quota.per_minute and minute + 1 > quota.per_minute:
        raise RateLimited(
            "quota_exceeded",
            f"tenant {tenant!r} is over its quota of {quota.per_minute} requests a minute",
            retry_after=60 - now.second,
        )
    if quota.per_day and day + 1 > quota.per_day:
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        raise RateLimited(
            "quota_exceeded",
            f"tenant {tenant!r} is over its quota of {quota.per_day} requests a day",
            retry_after=int((midnight - now).total_seconds()) + 1,
        )


def stored_counts(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The stored value of each (subject, period) counter (0 for one not stored yet)."""
    wanted = set(keys)
    out = dict.fromkeys(wanted, 0)
    if not wanted:
        return out
    rows = session.execute(
        select(UsageCounter.subject, UsageCounter.period, UsageCounter.count).where(
            UsageCounter.subject.in_({s for s, _ in wanted}),
            UsageCounter.period.in_({p for _, p in wanted}),
        )
    )
    for subject, period, n in rows:
        if (subject, period) in wanted:
            out[(subject, period)] = n
    return out


def add_counts(session: Session, counts: Mapping[Counter, int]) -> dict[tuple[str, str], int]:
    """Add `counts` to the stored counters with upserts; the new value of each (subject,
    period), which includes what other API processes added."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = [
        {"tenant": t, "subject": s, "period": p, "count": n} for (t, s, p), n in counts.items()
    ]
    out: dict[tuple[str, str], int] = {}
    for start in range(0, len(values), UPSERT_ROWS):
        statement = insert(UsageCounter).values(values[start : start + UPSERT_ROWS])
        upsert = statement.on_conflict_do_update(
            index_elements=["subject", "period"],
            set_={"count": UsageCounter.count + statement.excluded.count},
        ).returning(UsageCounter.subject, UsageCounter.period, UsageCounter.count)
        out |= {(s, p): c for s, p, c in session.execute(upsert)}
    return out


def mark_used(session: Session, used: Mapping[int, datetime]) -> None:
    """Record when each API token was last used."""
    for token_id, at in used.items():
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


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
