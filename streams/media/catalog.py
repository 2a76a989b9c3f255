"""What a worker knows, per tenant: bank entries and media judged before, searchable by hash.

One `HammingIndex` per (tenant, perceptual hash type) holds both kinds of entry; SHA-256 is an
exact dict. A tenant's queries only ever see that tenant's indexes. Bank entries are updated in
place (quarantine, removal) by `entry_id`, so replaying every bank record in order gives the
current state; judged media are added once per (event, hash).

Thread-safe: the agent's hashing thread and the feed on the event loop both use it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from schemas.media import BankEntry, BankStatus, HashType, MatchKind
from schemas.records import Decision
from streams.media.hashers import BY_TYPE
from streams.media.index import HammingIndex, pack


@dataclass(slots=True)
class Known:
    """One stored hash's owner: a bank entry (mutable status) or an earlier event."""

    kind: MatchKind
    decision: Decision
    label: str | None = None
    bank: str | None = None
    entry_id: str | None = None
    event_id: str | None = None
    status: BankStatus = BankStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Hit:
    known: Known
    hash_type: HashType
    distance: int


@dataclass(slots=True)
class _Table:
    index: HammingIndex
    owners: list[Known] = field(default_factory=list)


class Catalog:
    def __init__(self, thresholds: dict[HashType, int]) -> None:
        self.thresholds = thresholds
        self._tables: dict[tuple[str, HashType], _Table] = {}
        self._exact: dict[tuple[str, bytes], list[Known]] = {}
        self._bank: dict[tuple[str, str], tuple[Known, bytes, BankEntry]] = {}
        self._seen: set[tuple[str, str, HashType, bytes]] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(t.owners) for t in self._tables.values()) + len(self._exact)

    def apply_bank(self, entry: BankEntry) -> None:
        """Add a bank entry, or update its status, label and decision (latest record wins)."""
        value = bytes.fromhex(entry.value)
        with self._lock:
            current = self._bank.get((entry.tenant, entry.entry_id))
            if current is not None and current[1] == value:
                known = current[0]
                known.status, known.decision = entry.status, entry.decision
                known.label = entry.label
                self._bank[(entry.tenant, entry.entry_id)] = (known, value, entry)
                return
            if current is not None:  # the entry now names another hash: retire the old one
                current[0].status = BankStatus.REMOVED
            known = Known(
                MatchKind.BANK, entry.decision, entry.label, entry.bank, entry.entry_id,
                status=entry.status,
            )  # fmt: skip
            self._bank[(entry.tenant, entry.entry_id)] = (known, value, entry)
            self._add(entry.tenant, entry.hash_type, value, known)

    def add_seen(
        self, tenant: str, event_id: str, decision: Decision, hashes: list[tuple[HashType, bytes]]
    ) -> None:
        """Remember a judged item's hashes (idempotent per event and hash)."""
        with self._lock:
            known = Known(MatchKind.SEEN, decision, event_id=event_id)
            for hash_type, value in hashes:
                key = (tenant, event_id, hash_type, value)
                if key not in self._seen:
                    self._seen.add(key)
                    self._add(tenant, hash_type, value, known)

    def _add(self, tenant: str, hash_type: HashType, value: bytes, known: Known) -> None:
        if hash_type == HashType.SHA256:
            self._exact.setdefault((tenant, value), []).append(known)
            return
        table = self._tables.get((tenant, hash_type))
        if table is None:
            table = _Table(HammingIndex(BY_TYPE[hash_type].bits))
            self._tables[(tenant, hash_type)] = table
        table.index.add(pack(value, table.index.words))
        table.owners.append(known)

    def match(self, tenant: str, hash_type: HashType, values: list[bytes]) -> list[list[Hit]]:
        """For each value, what it matches within the type's threshold (removed entries not)."""
        out: list[list[Hit]] = [[] for _ in values]
        with self._lock:
            if hash_type == HashType.SHA256:
                for i, value in enumerate(values):
                    out[i] = [Hit(k, hash_type, 0) for k in self._exact.get((tenant, value), [])]
            else:
                table = self._tables.get((tenant, hash_type))
                if table is None or not values:
                    return out
                hits = table.index.query(
                    pack(values, table.index.words), self.thresholds[hash_type]
                )
                for q, row, d in zip(hits.query, hits.row, hits.distance, strict=True):
                    out[int(q)].append(Hit(table.owners[int(row)], hash_type, int(d)))
        return [[h for h in found if h.known.status != BankStatus.REMOVED] for found in out]

    def quarantine(self, tenant: str, entry_id: str) -> BankEntry | None:
        """Mark a bank entry quarantined here; returns its latest record, to publish."""
        with self._lock:
            current = self._bank.get((tenant, entry_id))
            if current is None:
                return None
            current[0].status = BankStatus.QUARANTINED
            return current[2]
