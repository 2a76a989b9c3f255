"""Login attempts per client address: a sliding window in this process's memory (a second API
process keeps its own; the per-account lockout in the store holds across processes)."""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginLimiter:
    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> int | None:
        """Record an attempt; the seconds to wait if it is over the limit, else None."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return int(hits[0] + self.window - now) + 1
            hits.append(now)
            if len(self._hits) > 100_000:  # bound the memory an address sweep can take
                self._hits = {k: v for k, v in self._hits.items() if v}
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
