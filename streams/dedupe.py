"""Bounded, in-process memory of what was judged, so nothing is judged twice.

Two questions, two keys: "was this item (tenant, source, upstream id) judged already?" and "were
these words (up to case and spacing) scored already for this tenant?". Keys are 16-byte BLAKE2b
digests, so a million entries cost ~150 MiB. The memory is a cache: after a restart or a replay an
item may be judged again, and the warehouse (ReplacingMergeTree keyed by tenant and event id)
keeps one verdict per event, so nothing is double-counted.
"""

from __future__ import annotations

from collections import OrderedDict
from hashlib import blake2b
from typing import Generic, TypeVar

V = TypeVar("V")


def digest(*parts: str) -> bytes:
    h = blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")  # unit separator: ("ab", "c") and ("a", "bc") differ
    return h.digest()


def content_key(tenant: str, text: str) -> bytes:
    """Same key for texts that differ only in case and spacing (cheap: no regex on the hot path)."""
    return digest(tenant, " ".join(text.casefold().split()))


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
