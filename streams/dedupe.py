"""Memory of what was judged, so nothing is judged twice, across restarts too.

Two questions, two keys: "was this item (tenant, source, upstream id) judged already?" and "were
these words (up to case and spacing) scored already for this tenant?". Keys are 16-byte BLAKE2b
digests. Each memory is a bounded LRU in the process (a million entries cost ~150 MiB) in front
of a table in a local SQLite file (`DedupeStore`): a restarted worker finds there what it judged
before. Writes go in one transaction per batch, before the batch's verdicts are published, so a
crash can only make a worker re-judge an event it already recorded (same event id: the warehouse
keeps one verdict per event), never forget one it published. Rows older than the store's TTL
are pruned. SQLite's WAL lets several workers on one host share the file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Any, Generic, TypeVar

from infra.errors import ConfigError
from infra.settings import DedupeSettings
from schemas.media import MediaVerdict
from schemas.records import DeadLetter, Verdict

V = TypeVar("V")

log = logging.getLogger(__name__)


def digest(*parts: str) -> bytes:
    h = blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")  # unit separator: ("ab", "c") and ("a", "bc") differ
    return h.digest()


def content_key(tenant: str, text: str, model: str = "") -> bytes:
    """Same key for texts that differ only in case and spacing (cheap: no regex on the hot path);
    `model` keeps the scores of one model version apart from another's."""
    return digest(tenant, model, " ".join(text.casefold().split()))


class LRUCache(Generic[V]):
    """A least-recently-used map with a fixed capacity."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._data: OrderedDict[bytes, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: bytes) -> bool:
        return key in self._data

    def get(self, key: bytes) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: bytes, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)


class DedupeStore:
    """The SQLite file behind the memories; one connection, used under a lock."""

    PRUNE_EVERY = 3600.0

    def __init__(self, path: Path, ttl_days: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing
            self._db.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the dedupe store {path}: {exc}") from exc
        self.path = path
        self.ttl = ttl_days * 86_400
        self._lock = threading.Lock()
        self._tables: set[str] = set()
        self._pruned = 0.0

    def table(self, name: str) -> None:
        with self._lock:
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {name} "
                "(key BLOB PRIMARY KEY, value TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID"
            )
            self._tables.add(name)

    def read(self, table: str, keys: list[bytes]) -> dict[bytes, str]:
        found: dict[bytes, str] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # under SQLite's bound on parameters
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM {table} WHERE key IN ({marks})",  # noqa: S608
                    chunk,
                )
                found.update(rows.fetchall())
        return found

    def write(self, rows: dict[str, list[tuple[bytes, str]]]) -> None:
        """Rows per table, in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table, items in rows.items():
                    self._db.executemany(
                        f"INSERT OR REPLACE INTO {table} (key, value, at) VALUES (?, ?, ?)",  # noqa: S608
                        [(k, v, now) for k, v in items],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if now - self._pruned >= self.PRUNE_EVERY:
                self._pruned = now
                for table in self._tables:
                    self._db.execute(f"DELETE FROM {table} WHERE at < ?", (now - self.ttl,))  # noqa: S608

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Memory(Generic[V]):
    """An LRU whose entries also live in a `DedupeStore` table (when given one). `load` the keys
    a batch will ask about (one query for the misses), `get`/`put` as with the LRU, then `flush`
    what was put into the store."""

    def __init__(
        self,
        capacity: int,
        store: DedupeStore | None = None,
        table: str = "",
        encode: Callable[[V], str] = str,
        decode: Callable[[str], V] = lambda raw: raw,  # type: ignore[assignment,return-value]
    ) -> None:
        self.cache: LRUCache[V] = LRUCache(capacity)
        self.store, self.table = store, table
        self._encode, self._decode = encode, decode
        self._dirty: dict[bytes, V] = {}
        if store is not None:
            store.table(table)

    def load(self, keys: Iterable[bytes]) -> None:
        if self.store is None:
            return
        missing = list({k for k in keys if k not in self.cache})
        if missing:
            for key, raw in self.store.read(self.table, missing).items():
                self.cache.put(key, self._decode(raw))

    def get(self, key: bytes) -> V | None:
        return self.cache.get(key)

    def put(self, key: bytes, value: V) -> None:
        self.cache.put(key, value)
        if self.store is not None:
            self._dirty[key] = value

    def pending(self) -> list[tuple[bytes, str]]:
        """What was put since the last call, encoded for the store."""
        rows = [(k, self._encode(v)) for k, v in self._dirty.items()]
        self._dirty.clear()
        return rows


def flush(*memories: Memory[object]) -> None:
    """Write what the memories were given, all in one transaction of their (shared) store."""
    store = next((m.store for m in memories if m.store is not None), None)
    if store is not None:
        rows = {m.table: m.pending() for m in memories}
        if any(rows.values()):
            store.write(rows)


def dedupe_store(settings: DedupeSettings, data_dir: Path) -> DedupeStore:
    """The store at its configured path, by default in the data folder."""
    return DedupeStore(settings.path or data_dir / "dedupe.sqlite3", ttl_days=settings.ttl_days)


def published_key(record: Verdict | MediaVerdict | DeadLetter) -> bytes:
    """A verdict is published once per event; a dead letter once per source record."""
    if isinstance(record, DeadLetter):
        return digest("dead-letter", record.topic, str(record.partition), str(record.offset))
    kind = "media-verdict" if isinstance(record, MediaVerdict) else "verdict"
    return digest(kind, record.tenant, record.event_id)


Send = Callable[[str, str, str], Awaitable[Awaitable[Any]]]
"""Hands a record to a producer; its result is the delivery future."""


class Ledger:
    """What a worker has published (and the broker acknowledged), so that an event delivered
    again, after a crash before its offset was committed or because a client sent it twice, is
    not published twice. The only window left is a crash between the broker's acknowledgement
    and the ledger's commit, a few milliseconds per batch."""

    def __init__(self, capacity: int, store: DedupeStore | None) -> None:
        self._memory: Memory[str] = Memory(capacity, store, "published")

    def unpublished(self, keys: list[bytes]) -> list[int]:
        """Indexes of the keys not published yet, each key once (a client that sent an event
        twice can put both copies in one batch)."""
        self._memory.load(keys)
        seen: set[bytes] = set()
        todo = []
        for i, key in enumerate(keys):
            if key not in seen and key not in self._memory.cache:
                todo.append(i)
            seen.add(key)
        return todo

    def record(self, keys: list[bytes]) -> None:
        for key in keys:
            self._memory.put(key, "")
        flush(self._memory)  # type: ignore[arg-type]

    async def publish(
        self, records: Sequence[tuple[str, str, str]], keys: Sequence[bytes], send: Send
    ) -> int:
        """Send the records (topic, key, value) whose keys were not published before, wait for
        the broker's acknowledgements, then record them; returns how many were sent."""
        fresh = await asyncio.to_thread(self.unpublished, list(keys))
        await asyncio.gather(*[await send(*records[i]) for i in fresh])
        await asyncio.to_thread(self.record, [keys[i] for i in fresh])
        return len(fresh)
