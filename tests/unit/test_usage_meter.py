"""The usage meter: requests counted in memory and written in batches, quotas enforced against
what is stored plus what was counted since, on a real (SQLite) accounts store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.accounts import service
from api.accounts.meter import UsageMeter
from api.accounts.service.principal import Principal
from api.accounts.service.usage import Quota
from infra.accounts import AccountsDB
from infra.accounts.models import ApiToken
from infra.errors import AccountsError, RateLimited
from infra.settings import AccountsSettings

NOW = datetime(2026, 12, 5, 12, 30, 15, tzinfo=UTC)
NO_QUOTA = Quota(None, None)


@pytest.fixture
def accounts(tmp_path: Path) -> AccountsDB:
    db = AccountsDB(f"sqlite:///{tmp_path / 'accounts.db'}")
    db.create_schema()
    return db


def caller(tenant: str = "acme", token_id: int | None = 7) -> Principal:
    return Principal(tenant=tenant, tenant_id=1, scopes=frozenset({"read"}), token_id=token_id)


def stored(accounts: AccountsDB, *subjects: str) -> dict[str, dict[str, int]]:
    with accounts.session() as session:
        return service.usage_of(session, list(subjects))


def test_counts_reach_the_store_at_the_flush_not_before(accounts: AccountsDB) -> None:
    meter = UsageMeter(accounts)
    for _ in range(3):
        meter.count(caller(), NO_QUOTA)
    assert stored(accounts, "token:7")["token:7"]["total"] == 0
    meter.flush()
    meter.count(caller(), NO_QUOTA)
    meter.flush()
    counts = stored(accounts, "token:7", "tenant:acme")
    assert counts["token:7"]["total"] == 4
    assert counts["tenant:acme"]["total"] == 4
    meter.flush()  # nothing new: nothing written twice
    assert stored(accounts, "token:7")["token:7"]["total"] == 4


def test_the_quota_counts_requests_not_written_yet_and_a_refusal_is_not_counted(
    accounts: AccountsDB,
) -> None:
    meter = UsageMeter(accounts)
    quota = Quota(per_minute=3, per_day=None)
    for _ in range(3):
        meter.count(caller(), quota, NOW)
    with pytest.raises(RateLimited) as refused:
        meter.count(caller(), quota, NOW)
    assert refused.value.retry_after == 45  # to the next minute
    meter.flush()
    with pytest.raises(RateLimited):  # the same after the flush: stored 3, none since
        meter.count(caller(), quota, NOW)
    assert stored(accounts, "tenant:acme")["tenant:acme"]["total"] == 3
    meter.count(caller(), quota, NOW.replace(minute=31))  # a new minute
    meter.count(caller("other"), quota, NOW)  # another tenant has its own count


def test_a_daily_quota_waits_until_midnight(accounts: AccountsDB) -> None:
    meter = UsageMeter(accounts)
    quota = Quota(per_minute=None, per_day=2)
    meter.count(caller(), quota, NOW)
    meter.flush()
    meter.count(caller(), quota, NOW.replace(hour=20))
    with pytest.raises(RateLimited) as refused:
        meter.count(caller(), quota, NOW.replace(hour=23, minute=59, second=50))
    assert refused.value.retry_after == 11


def test_another_process_counts_are_seen_from_the_store(accounts: AccountsDB) -> None:
    first, second = UsageMeter(accounts), UsageMeter(accounts)
    quota = Quota(per_minute=5, per_day=None)
    for _ in range(3):
        first.count(caller(), quota, NOW)
    first.flush()
    second.count(caller(), quota, NOW)  # reads the stored 3: this is the 4th
    for _ in range(2):
        first.count(caller(), quota, NOW)
    first.flush()
    second.flush()  # its answer holds everything stored: 6
    with pytest.raises(RateLimited):
        second.count(caller(), quota, NOW)
    assert stored(accounts, "tenant:acme")["tenant:acme"]["total"] == 6


def test_counts_a_failed_flush_could_not_write_are_written_by_the_next(tmp_path: Path) -> None:
    accounts = AccountsDB(f"sqlite:///{tmp_path / 'later.db'}")  # no schema yet: writes fail
    meter = UsageMeter(accounts)
    meter.count(caller(), NO_QUOTA)
    with pytest.raises(AccountsError):
        meter.flush()
    meter.count(caller(), NO_QUOTA)
    accounts.create_schema()
    meter.flush()
    assert stored(accounts, "token:7")["token:7"]["total"] == 2


def test_a_tokens_last_use_is_written_with_the_counts(accounts: AccountsDB) -> None:
    with accounts.session() as session:
        tenant = service.create_tenant(session, "acme")
        token, _ = service.create_token(
            session, AccountsSettings(), tenant, name="t", scopes=frozenset({"read"}),
            user_id=None, expires_at=None, actor="cli", ctx=service.CLI,
        )  # fmt: skip
    meter = UsageMeter(accounts)
    meter.count(caller(token_id=token.id), NO_QUOTA, NOW)
    meter.flush()
    with accounts.session() as session:
        found = session.get(ApiToken, token.id)
        assert found is not None
        assert found.last_used_at == NOW


def test_stopping_the_flush_loop_writes_what_is_left(accounts: AccountsDB) -> None:
    meter = UsageMeter(accounts)

    async def run_then_stop() -> None:
        task = asyncio.create_task(meter.run(interval=3600))
        await asyncio.sleep(0)
        meter.count(caller(), NO_QUOTA)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_stop())
    assert stored(accounts, "token:7")["token:7"]["total"] == 1
