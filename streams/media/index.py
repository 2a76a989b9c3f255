"""Near-duplicate search: every stored hash within Hamming distance r of a query, in memory.

Multi-index hashing (Norouzi et al.), vectorised with numpy. A b-bit hash is cut into m = b/16
chunks of 16 bits. If two hashes differ in at most r bits, then for radii r_i with
Σ(r_i + 1) ≥ r + 1 at least one chunk i differs in at most r_i bits (pigeonhole). So a query
probes, in each chunk's table, the 16-bit values within r_i of its own chunk, and only those
candidates get a full distance. A chunk table is a bucket array over the 65,536 values (offsets
plus row order: a counting sort), so a probe is two array reads, and a whole batch of queries is
probed, gathered and verified in a handful of numpy calls.

Measured on this machine (2 cores, 1M random hashes, batches of 1,000 queries; `modstream bench
media` prints the current figures): a brute-force scan (XOR + `np.bitwise_count` over packed
uint64) answers ~200-600 queries/s at 1M; multi-index hashing answers well over 10,000/s for
64-bit pHash at r=10 and 256-bit PDQ at r=31. Real perceptual hashes cluster more than random
ones, so buckets are fuller; the bench's numbers are for random hashes.

New hashes go to a small tail that is scanned by brute force, so a hash is searchable the moment
it is added; the tail is folded into the chunk tables once it outgrows `tail_limit` or 1/32 of the
index (a radix sort per chunk: ~0.3 s for a million 64-bit hashes, a few seconds for PDQ's 16
chunks, so the cost per added hash stays small).

Memory per million hashes: the hashes (8 B per 64 bits), a row order per chunk (4 B each) and a
sketch per chunk (8 B for 64-bit hashes; 16 B for PDQ): ~44 MB for pHash, ~360 MB for PDQ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_CHUNK = 16
_VALUES = 1 << _CHUNK
_POP16 = np.bitwise_count(np.arange(_VALUES, dtype=np.uint16))
_MASKS = [np.flatnonzero(np.less_equal(_POP16, r)) for r in range(_CHUNK + 1)]
"""16-bit values with at most r bits set: the probes of a radius-r ball around a chunk."""


def pack(hashes: list[bytes] | bytes, words: int) -> U64:
    """Hashes (big-endian bytes, 8·words each) as an [n, words] uint64 array."""
    raw = hashes if isinstance(hashes, bytes) else b"".join(hashes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, words)


def chunk_radii(radius: int, chunks: int) -> list[int]:
    """Per-chunk probe radii with Σ(r_i + 1) = radius + 1; -1 means the chunk is not probed."""
    need = radius + 1
    return [need // chunks + (1 if i < need % chunks else 0) - 1 for i in range(chunks)]


@dataclass(frozen=True, slots=True)
class Hits:
    """Matches of a batch: query number, stored row, distance (parallel arrays)."""

    query: I64
    row: I64
    distance: I64


_EMPTY = np.zeros(0, dtype=np.int64)


class HammingIndex:
    """Hashes of one type (`bits` a multiple of 64) for one tenant. Not thread-safe: one owner."""

    def __init__(self, bits: int, *, tail_limit: int = 8_192, capacity: int = 1_024) -> None:
        if bits % 64:
            raise ValueError("bits must be a multiple of 64")
        self.bits = bits
        self.words = bits // 64
        self.chunks = bits // _CHUNK
        self.tail_limit = tail_limit
        self._data: U64 = np.zeros((capacity, self.words), dtype=np.uint64)
        self._n = 0
        self._built = 0
        self._offsets: list[I64] = []
        self._order: list[npt.NDArray[np.signedinteger[npt.NBitBase]]] = []
        self._sorted: list[list[U64]] = []

    def __len__(self) -> int:
        return self._n

    def add(self, packed: U64) -> I64:
        """Add [k, words] hashes; returns their row numbers. Searchable at once."""
        packed = packed.reshape(-1, self.words)
        k = len(packed)
        if self._n + k > len(self._data):
            grown = np.zeros((max(2 * len(self._data), self._n + k), self.words), np.uint64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : self._n + k] = packed
        rows = np.arange(self._n, self._n + k, dtype=np.int64)
        self._n += k
        if self._n - self._built > max(self.tail_limit, self._built // 32):
            self.build()
        return rows

    def build(self) -> None:
        """Fold every row into the chunk tables (a counting sort per chunk)."""
        data = self._data[: self._n]
        self._offsets, self._order, self._sorted = [], [], []
        for c in range(self.chunks):
            values = self._chunk(data, c).astype(np.uint16)
            order = np.argsort(values, kind="stable")  # a radix sort for 16-bit keys
            offsets = np.zeros(_VALUES + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=_VALUES), out=offsets[1:])
            self._offsets.append(offsets)
            self._order.append(order.astype(np.int32 if self._n < 2**31 else np.int64))
            # A lower-bound sketch in bucket order, so candidates are read from contiguous runs.
            self._sorted.append([part[order] for part in self._sketch(data, c)])
        self._built = self._n

    def _sketch(self, packed: U64, c: int) -> list[U64]:
        """The chunk's own word, and the XOR-fold of the other words: the Hamming distance of
        two sketches never exceeds the distance of the hashes (XOR-folding can only cancel
        differing bits), and 128 bits reject nearly every random candidate at PDQ's radius."""
        own = (c * _CHUNK) // 64
        if self.words == 1:
            return [packed[:, 0]]
        others = np.bitwise_xor.reduce(np.delete(packed, own, axis=1), axis=1)
        return [np.ascontiguousarray(packed[:, own]), others]

    def _chunk(self, packed: U64, c: int) -> npt.NDArray[np.intp]:
        word, shift = divmod(c * _CHUNK, 64)
        shift = 64 - _CHUNK - shift
        return ((packed[:, word] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.intp)

    def query(self, packed: U64, radius: int) -> Hits:
        """Every stored row within `radius` of each query ([q, words] hashes)."""
        queries = packed.reshape(-1, self.words)
        parts_q: list[I64] = []
        parts_r: list[I64] = []
        if self._built:
            for c, r in enumerate(chunk_radii(radius, self.chunks)):
                if r >= 0:
                    q, rows = self._probe(queries, c, r, radius)
                    parts_q.append(q)
                    parts_r.append(rows)
        if self._n > self._built:  # the tail: brute force
            tail = np.arange(self._built, self._n, dtype=np.int64)
            parts_q.append(np.repeat(np.arange(len(queries), dtype=np.int64), len(tail)))
            parts_r.append(np.tile(tail, len(queries)))
        if not parts_q:
            return _NO_HITS
        q = np.concatenate(parts_q)
        rows = np.concatenate(parts_r)
        distance = np.bitwise_count(self._data[rows] ^ queries[q]).sum(axis=1, dtype=np.int64)
        keep = distance <= radius
        q, rows, distance = q[keep], rows[keep], distance[keep]
        # A pair found through several chunks appears several times: keep one.
        _, first = np.unique(q * max(1, self._n) + rows, return_index=True)
        return Hits(q[first], rows[first], distance[first])

    def _probe(self, queries: U64, c: int, r: int, radius: int) -> tuple[I64, I64]:
        """Candidates from chunk `c` whose sketch is within `radius` (a lower bound read from
        contiguous runs); the caller checks the full distance of the few that pass."""
        masks = _MASKS[r]
        probes = (self._chunk(queries, c)[:, None] ^ masks[None, :]).ravel()
        offsets = self._offsets[c]
        starts = offsets[probes]
        lengths = offsets[probes + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return _NO_HITS.query, _NO_HITS.row
        ends = np.cumsum(lengths)
        positions = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
        owner = np.repeat(np.repeat(np.arange(len(queries), dtype=np.int64), len(masks)), lengths)
        lower = np.zeros(total, dtype=np.uint8)
        for stored, mine in zip(self._sorted[c], self._sketch(queries, c), strict=True):
            lower += np.bitwise_count(stored[positions] ^ mine[owner])
        near = lower <= radius
        return owner[near], self._order[c][positions[near]].astype(np.int64)

    def brute_force(self, packed: U64, radius: int) -> Hits:
        """The same answer by scanning every row: the reference for tests and the bench."""
        queries = packed.reshape(-1, self.words)
        data = self._data[: self._n]
        qs: list[I64] = []
        rs: list[I64] = []
        ds: list[I64] = []
        for i, query in enumerate(queries):
            distance = np.bitwise_count(data ^ query).sum(axis=1, dtype=np.int64)
            rows = np.flatnonzero(distance <= radius)
            qs.append(np.full(len(rows), i, dtype=np.int64))
            rs.append(rows.astype(np.int64))
            ds.append(distance[rows])
        if not qs:
            empty = np.zeros(0, dtype=np.int64)
            return Hits(empty, empty, empty)
        return Hits(np.concatenate(qs), np.concatenate(rs), np.concatenate(ds))


_NO_HITS = Hits(_EMPTY, _EMPTY, _EMPTY)
