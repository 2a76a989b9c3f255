"""Request counting in memory, written to the accounts store in batches.

Counting each request in the store cost a write transaction per request (seven counter upserts
and the token's last-used time), serialised with every other writer of the store: the largest
share of an authenticated request's time under load. The meter adds one to each of the
request's counters in memory and writes them all, with the tokens' last-used times, in one
transaction every `MODSTREAM_USAGE_FLUSH_INTERVAL` seconds, when the API stops, and before
anything reads them through the API (`GET /v1/usage`, the token list).

Quotas hold as before within one API process: a tenant's count this minute and today is the
stored count (read once, then taken from each flush's answer) plus what this process counted
since, so a request over the quota is refused (and not counted) exactly as when each request
was written. Several API processes each see the others' requests once both have flushed: a
tenant may get up to one flush interval's worth of the other processes' requests past its
quota. A process killed without stopping loses at most its last interval's counts; nothing
else depends on them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter as Tally
from datetime import UTC, datetime

from api.accounts.service.principal import Principal
from api.accounts.service.usage import (
    Counter,
    Periods,
    Quota,
    add_counts,
    check_quota,
    counters_of,
    mark_used,
    stored_counts,
)
from infra.accounts import AccountsDB
from infra.errors import AccountsError

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (subject, period)


class UsageMeter:
    """Counts requests and enforces tenants' quotas; `flush()` writes the counts."""

    def __init__(self, accounts: AccountsDB) -> None:
        self.accounts = accounts
        self._lock = threading.Lock()  # guards the counts; never held across a store write
        self._flush_lock = threading.Lock()  # one flush at a time
        self._pending: Tally[Counter] = Tally()  # counted, not yet being written
        self._writing: Tally[Counter] = Tally()  # being written by the current flush
        self._used: dict[int, datetime] = {}  # token id → last used, not yet written
        self._known: dict[Key, int] = {}  # a tenant counter's stored value, as last seen

    def count(self, principal: Principal, quota: Quota, now: datetime | None = None) -> None:
        """Count one request of `principal`, or refuse it (`RateLimited`, not counted) when it
        would take its tenant over `quota`. `AccountsError` if a count to check against cannot
        be read."""
        now = now or datetime.now(UTC)
        periods = Periods.at(now)
        subject = f"tenant:{principal.tenant}"
        if quota.per_minute or quota.per_day:
            self._learn([(subject, periods.minute), (subject, periods.day)])
        with self._lock:
            if quota.per_minute or quota.per_day:
                minute = self._current(principal.tenant, subject, periods.minute)
                day = self._current(principal.tenant, subject, periods.day)
                check_quota(principal.tenant, quota, minute, day, now)
            self._pending.update(counters_of(principal, periods))
            if principal.token_id is not None:
                self._used[principal.token_id] = now

    def flush(self) -> None:
        """Write what was counted since the last flush in one transaction. On a store error the
        counts stay here for the next flush, and `AccountsError` is raised."""
        with self._flush_lock:
            with self._lock:
                if not self._pending and not self._used:
                    return
                self._writing, self._pending = self._pending, Tally()
                used, self._used = self._used, {}
            try:
                with self.accounts.session() as session:
                    stored = add_counts(session, self._writing)
                    mark_used(session, used)
            except AccountsError:
                with self._lock:
                    self._pending.update(self._writing)
                    self._writing = Tally()
                    self._used = used | self._used
                raise
            with self._lock:
                # Only the counters just written stay known: each is at most one interval old
                # (another process's counts arrive with the next flush); the rest are read again.
                self._known = {k: n for k, n in stored.items() if k[0].startswith("tenant:")}
                self._writing = Tally()

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval)
                await self._flush_logged()
        finally:
            await asyncio.shield(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await asyncio.to_thread(self.flush)
        except AccountsError as exc:
            log.warning("request counts not written (kept for the next flush): %s", exc)

    def _learn(self, keys: list[Key]) -> None:
        """Read the stored value of the tenant counters a quota is checked against, once (a
        tenant's first request with a quota in a minute). Not during a flush, whose counts the
        store may or may not hold yet."""
        with self._lock:
            if all(k in self._known for k in keys):
                return
        with self._flush_lock:
            with self._lock:
                missing = [k for k in keys if k not in self._known]
            if not missing:
                return
            with self.accounts.session() as session:
                stored = stored_counts(session, missing)
            with self._lock:
                self._known |= stored

    def _current(self, tenant: str, subject: str, period: str) -> int:
        counter = (tenant, subject, period)
        stored = self._known.get((subject, period), 0)
        return stored + self._writing[counter] + self._pending[counter]
