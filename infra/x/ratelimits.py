"""X's rate limits, honoured: every answer's `x-rate-limit-remaining` / `x-rate-limit-reset`
(epoch seconds) and every 429 (`Retry-After`, else the reset, else a minute) are noted per
(account, endpoint); before each request the caller waits until that window reopens, or, when it
may not wait that long, gets `XRateLimited` without a request being sent. So a spent window is
never knocked on again before its reset."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Mapping

from infra.x.errors import XRateLimited

log = logging.getLogger(__name__)

RESET_MARGIN = 1.0
"""Seconds added to X's reset time: its clock and ours are not the same clock."""
DEFAULT_BACKOFF = 60.0
"""After a 429 that says nothing about when to come back."""


class RateLimits:
    def __init__(self) -> None:
        self._closed_until: dict[tuple[str, str], float] = {}

    def note(self, key: str, endpoint: str, status: int, headers: Mapping[str, str]) -> None:
        now = time.time()
        reset = _number(headers.get("x-rate-limit-reset"))
        remaining = _number(headers.get("x-rate-limit-remaining"))
        until: float | None = None
        if status == 429:
            retry_after = _retry_after(headers.get("retry-after"), now)
            if retry_after is not None:
                until = retry_after
            elif reset is not None:
                until = reset + RESET_MARGIN
            else:
                until = now + DEFAULT_BACKOFF
        elif remaining is not None and remaining <= 0 and reset is not None:
            until = reset + RESET_MARGIN
        if until is not None and until > now:
            self._closed_until[(key, endpoint)] = until
            log.info("X %s for %s closed for %.1fs", endpoint, key, until - now)
        else:
            self._closed_until.pop((key, endpoint), None)

    def closed_until(self, key: str, endpoint: str) -> float | None:
        until = self._closed_until.get((key, endpoint))
        return until if until is not None and until > time.time() else None

    async def wait(self, key: str, endpoint: str, max_wait: float) -> None:
        """Return when a request may be sent; raise `XRateLimited` if that is over `max_wait`
        seconds away."""
        until = self.closed_until(key, endpoint)
        if until is None:
            return
        delay = until - time.time()
        if delay > max_wait:
            raise XRateLimited(endpoint, until)
        await asyncio.sleep(max(0.0, delay))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds or an HTTP date, as an epoch time."""
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return now + max(0.0, seconds)
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
