"""Flood protection for bank entries: one that matches far more than usual is quarantined.

A bad or over-broad bank entry (a blank frame, a common logo) would otherwise auto-reject
everything that resembles it. Each worker counts matches per entry in a sliding window; past
`max_matches` the entry is quarantined: its matches ask for review instead of rejecting, and the
worker publishes the new status to `media.banks`, so every worker and the warehouse learn it and
an operator can re-activate it. (Counts are per worker: with k workers an entry may match up to
k·max_matches times in a window before every worker has seen the quarantine.)
"""

from __future__ import annotations

from collections import deque


class FloodGuard:
    def __init__(self, window: float, max_matches: int) -> None:
        self.window = window
        self.max_matches = max_matches
        self._times: dict[tuple[str, str], deque[float]] = {}

    def record(self, tenant: str, entry_id: str, now: float) -> bool:
        """Count one match at `now` (seconds); True if the entry has just crossed the limit."""
        times = self._times.setdefault((tenant, entry_id), deque())
        times.append(now)
        while times and times[0] < now - self.window:
            times.popleft()
        if len(times) > self.max_matches:
            times.clear()  # reported once; an operator's re-activation starts a fresh count
            return True
        return False
