"""Sliding-window counts per entity, kept by the worker beside the stream, across restarts.

An entity is (tenant, counter, the counter's version, the key a rule names: an author, a URL, a
content hash…), stored as a 16-byte digest of those; a counter of every item by author counts
in the author's history (`(tenant, "author.items", author)`), which holds the same events.
Each holds the events counted for it, *by event id*, with their event time: an event delivered
again (a replay, or the redelivery after a crash before the offset commit) is found by its id
and not counted twice, and counts are read in event time, so a replay reads the same counts as
the first pass did. A count is the events in `(t - window, t]` of the item's own time `t`.

Memory holds the entities touched lately (sorted times, bisected: O(log n) per read; none with
`capacity=0`, which reads every entity from the file, so a process sees what another sharing the
file has flushed: the synchronous judge beside the worker); a SQLite
file beside the dedupe store holds every counted event for `horizon` seconds, written in one
transaction per batch *before* the batch's verdicts are published (as the dedupe memory is), so
a worker killed at any point restarts with every count it ever published. Redefining a counter
(its text changes) starts it from zero: its version is in the entity (but for one by author
kept in the history).
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from hashlib import blake2b
from pathlib import Path

from infra.errors import ConfigError

log = logging.getLogger(__name__)


COUNTERS_FILE = "rule_counters.sqlite3"
"""In the data directory, shared by the worker and the synchronous judge (`modstream assist`)."""

Entity = tuple[str, ...]


def entity_digest(entity: Entity) -> bytes:
    h = blake2b(digest_size=16)
    for part in entity:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")  # unit separator: ("ab", "c") and ("a", "bc") differ
    return h.digest()


class _Entity:
    """The events counted for one entity: their times (sorted), ids at those times, id set."""

    __slots__ = ("events", "ids", "times")

    def __init__(self) -> None:  # a plain class: one is made for each new key
        self.times: list[float] = []
        self.ids: list[str] = []
        self.events: set[str] = set()

    def insert(self, at: float, event: str) -> None:
        self.events.add(event)
        i = bisect.bisect_right(self.times, at)
        self.times.insert(i, at)
        self.ids.insert(i, event)

    def forget_before(self, at: float) -> None:
        cut = bisect.bisect_left(self.times, at)
        if cut:
            self.events.difference_update(self.ids[:cut])
            del self.times[:cut]
            del self.ids[:cut]


class CounterStore:
    """Counted events per entity; thread-safe (one lock: counting is a few microseconds)."""

    PRUNE_EVERY = 3600.0

    def __init__(
        self, path: Path | None, *, horizon_s: float = 30 * 86_400.0, capacity: int = 200_000
    ) -> None:
        self.horizon = horizon_s
        self.capacity = capacity
        self._memory: OrderedDict[Entity, _Entity] = OrderedDict()
        self._pending: dict[Entity, list[tuple[str, float]]] = {}  # counted, not yet flushed
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pruned = 0.0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing
                self._db.execute("PRAGMA busy_timeout=10000")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS counted (entity BLOB NOT NULL, event TEXT NOT "
                    "NULL, at REAL NOT NULL, PRIMARY KEY (entity, event)) WITHOUT ROWID"
                )
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open the counters store {path}: {exc}") from exc

    def observe(
        self, entity: Entity, event: str, at: float, window: float, *, count_it: bool = True
    ) -> tuple[int, float | None]:
        """Count `event` for `entity` at time `at` (once, whatever the deliveries) unless
        `count_it` is false, then return (events in `(at - window, at]`, the first one's time)."""
        return self.observe_all([(entity, window, count_it)], event, at)[0]

    def observe_all(
        self, requests: Sequence[tuple[Entity, float, bool]], event: str, at: float
    ) -> list[tuple[int, float | None]]:
        """`observe` for each (entity, window, count_it) of one event, under one lock and in
        one loop: an item's counters and its author's history are one call."""
        bisect_right, horizon = bisect.bisect_right, at - self.horizon
        out: list[tuple[int, float | None]] = []
        with self._lock:
            memory, pending = self._memory, self._pending  # (a flush replaces `_pending`)
            for entity, window, count_it in requests:
                state = memory.get(entity)
                if state is None:
                    state = self._load(entity)
                else:
                    memory.move_to_end(entity)  # the least recently used leaves first
                times = state.times
                if count_it and event not in state.events:
                    if times and at < times[-1]:
                        state.insert(at, event)
                    else:  # in time order, as a stream mostly is
                        times.append(at)
                        state.ids.append(event)
                        state.events.add(event)
                    counted = pending.get(entity)
                    if counted is None:
                        pending[entity] = [(event, at)]
                    else:
                        counted.append((event, at))
                    if times[0] < horizon:
                        state.forget_before(horizon)
                start = bisect_right(times, at - window)
                end = len(times) if times and times[-1] <= at else bisect_right(times, at)
                out.append((end - start, times[start] if start < end else None))
        return out

    def _load(self, entity: Entity) -> _Entity:
        """An entity not in memory: read from the file (if any), then kept."""
        state = _Entity()
        if self._db is not None:
            rows = self._db.execute(
                "SELECT event, at FROM counted WHERE entity = ?", (entity_digest(entity),)
            ).fetchall()
            # and what was counted here but not flushed yet (an entity evicted meanwhile, or
            # never kept: `capacity=0` reads through to the file, which another process shares)
            rows += self._pending.get(entity, [])
            ordered = sorted({(at, event) for event, at in rows})
            state.events = {event for _, event in ordered}
            state.times = [at for at, _ in ordered]
            state.ids = [event for _, event in ordered]
        self._memory[entity] = state
        if len(self._memory) > self.capacity:
            self._memory.popitem(last=False)  # read back from the file when touched again
        return state

    def flush(self) -> None:
        """Write what was counted since the last flush, in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
            if self._db is None or not pending:
                return
            try:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR IGNORE INTO counted (entity, event, at) VALUES (?, ?, ?)",
                    [
                        (entity_digest(entity), event, at)
                        for entity, counted in pending.items()
                        for event, at in counted
                    ],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                for entity, counted in self._pending.items():
                    pending.setdefault(entity, []).extend(counted)
                self._pending = pending
                raise
            self._prune()

    def _prune(self) -> None:
        now = time.time()
        if self._db is None or now - self._pruned < self.PRUNE_EVERY:
            return
        self._pruned = now
        self._db.execute("DELETE FROM counted WHERE at < ?", (now - self.horizon,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
