"""`modstream x-poll`: every `x_poll_interval` seconds, poll each connected X account that is
due (not waiting out a rate limit or an error back-off), a few at a time. One poll is
`infra.x.XPoll`: refresh, page through new tweets since the checkpoint, publish, checkpoint.

Rate limits are waited out inside a poll up to `x_max_wait` seconds; a longer wait skips the
account until the reset (recorded on the account, so a restarted poller waits too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from infra.accounts import AccountsDB
from infra.errors import BrokerError, ConfigError
from infra.kafka import Publisher
from infra.logging import heartbeat
from infra.settings import XSettings
from infra.x import TokenCipher, XAccounts, XAuthError, XClient, XError, XPoll, XRateLimited

log = logging.getLogger(__name__)

CONCURRENCY = 4
"""Accounts polled at once (each has its own X rate limits; this bounds our own load)."""


class XPoller:
    def __init__(
        self,
        settings: XSettings,
        accounts: AccountsDB,
        bootstrap: str,
        cipher: TokenCipher,
        heartbeat_file: Path | None = None,
    ) -> None:
        """`cipher` opens the accounts' stored tokens; `heartbeat_file` is touched while running."""
        self.settings = settings
        self.store = XAccounts(accounts)
        self.bootstrap = bootstrap
        self.cipher = cipher
        self.heartbeat_file = heartbeat_file
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, rounds: int | None = None) -> None:
        """Poll until stopped (or for `rounds` rounds)."""
        beat = asyncio.create_task(heartbeat(self.heartbeat_file))
        try:
            async with Publisher(self.bootstrap) as publisher, XClient(self.settings) as client:
                poll = XPoll(self.settings, self.store, client, publisher, self.cipher)
                done = 0
                while not self._stop.is_set():
                    await self.round(poll)
                    done += 1
                    if rounds is not None and done >= rounds:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.settings.poll_interval)
        finally:
            beat.cancel()

    async def round(self, poll: XPoll) -> None:
        due = await asyncio.to_thread(self.store.due, datetime.now(UTC))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(account_id: int) -> None:
            async with gate:
                await self._poll_one(poll, account_id)

        await asyncio.gather(*(one(a) for a in due))

    async def _poll_one(self, poll: XPoll, account_id: int) -> None:
        try:
            await poll.poll(account_id, max_wait=self.settings.max_wait)
        except XRateLimited as exc:
            log.info("X account %d: rate limited until %.0f; skipped", account_id, exc.retry_at)
        except XAuthError as exc:
            log.warning("X account %d needs to be connected again: %s", account_id, exc)
        except (XError, BrokerError) as exc:
            log.warning("X account %d: poll failed (%s); backing off", account_id, exc)
        except ConfigError as exc:  # e.g. its tokens were sealed with a key no longer configured
            log.error("X account %d cannot be polled: %s", account_id, exc)
