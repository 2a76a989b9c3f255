"""The near-duplicate index against brute force, and the catalog's tenancy and bank state."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.media import BankEntry, BankStatus, HashType, MatchKind
from schemas.records import Decision
from streams.media.catalog import Catalog
from streams.media.flood import FloodGuard
from streams.media.index import HammingIndex, chunk_radii, pack


def flip(rows: np.ndarray, bits: int, n: int, rng: np.random.Generator) -> np.ndarray:
    out = rows.copy()
    for row in out:
        for b in rng.choice(bits, n, replace=False):
            row[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


@pytest.mark.parametrize(("bits", "radius"), [(64, 10), (64, 3), (256, 31), (256, 8)])
def test_multi_index_search_equals_brute_force(bits: int, radius: int) -> None:
    rng = np.random.default_rng(bits + radius)
    words = bits // 64
    index = HammingIndex(bits, tail_limit=500)
    data = rng.integers(0, 2**64 - 1, size=(3_000, words), dtype=np.uint64)
    index.add(data[:2_000])
    index.build()
    index.add(data[2_000:])  # some built, some in the tail
    near = flip(data[rng.integers(0, 3_000, 40)], bits, radius, rng)
    far = flip(data[rng.integers(0, 3_000, 40)], bits, radius + 1, rng)
    queries = np.concatenate([near, far, rng.integers(0, 2**64 - 1, (20, words), np.uint64)])
    got, want = index.query(queries, radius), index.brute_force(queries, radius)
    assert sorted(zip(got.query, got.row, got.distance, strict=True)) == sorted(
        zip(want.query, want.row, want.distance, strict=True)
    )
    assert len(set(got.query.tolist())) >= 40  # every near copy is found


def test_radii_cover_the_pigeonhole() -> None:
    for radius in range(0, 40):
        for chunks in (4, 16):
            assert sum(r + 1 for r in chunk_radii(radius, chunks)) == radius + 1


def test_an_added_hash_is_searchable_at_once() -> None:
    index = HammingIndex(64)
    value = pack(bytes.fromhex("0123456789abcdef"), 1)
    assert len(index.query(value, 0).row) == 0
    index.add(value)
    assert index.query(value, 0).row.tolist() == [0]


def bank(value: str, status: BankStatus = BankStatus.ACTIVE, tenant: str = "a") -> BankEntry:
    return BankEntry(
        tenant=tenant, bank="known", entry_id=f"known:phash:{value}", hash_type=HashType.PHASH,
        value=value, label="bad", source="test", decision=Decision.REJECT, status=status,
        updated_at=datetime.now(UTC),
    )  # fmt: skip


def test_catalog_keeps_tenants_apart_and_bank_status_follows_the_latest_record() -> None:
    catalog = Catalog({HashType.PHASH: 4, HashType.PDQ: 31, HashType.SHA256: 0})
    value = "f0f0f0f0f0f0f0f0"
    near = bytes.fromhex("f0f0f0f0f0f0f0f1")
    catalog.apply_bank(bank(value))
    catalog.add_seen("a", "e1", Decision.APPROVE, [(HashType.PHASH, bytes.fromhex(value))])
    assert catalog.match("b", HashType.PHASH, [near]) == [[]]  # another tenant sees nothing
    hits = catalog.match("a", HashType.PHASH, [near])[0]
    assert {h.known.kind for h in hits} == {MatchKind.BANK, MatchKind.SEEN}
    assert all(h.distance == 1 for h in hits)
    catalog.apply_bank(bank(value, BankStatus.QUARANTINED))
    statuses = {h.known.status for h in catalog.match("a", HashType.PHASH, [near])[0]}
    assert BankStatus.QUARANTINED in statuses
    catalog.apply_bank(bank(value, BankStatus.REMOVED))
    kinds = {h.known.kind for h in catalog.match("a", HashType.PHASH, [near])[0]}
    assert kinds == {MatchKind.SEEN}
    catalog.add_seen("a", "e1", Decision.APPROVE, [(HashType.PHASH, bytes.fromhex(value))])
    assert len(catalog.match("a", HashType.PHASH, [near])[0]) == 1  # replays add nothing


def test_flood_guard_trips_once_past_the_limit() -> None:
    guard = FloodGuard(window=10, max_matches=3)
    assert [guard.record("t", "e", t) for t in (0, 1, 2)] == [False] * 3
    assert guard.record("t", "e", 3)
    assert not guard.record("t", "e", 4)
    assert not any(guard.record("t", "f", t) for t in (0, 20, 40, 60))  # spread out: fine
