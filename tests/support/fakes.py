"""Fakes at the API's seams, for the unit tier: a publisher that records what it would have
published, and no warehouse (every query fails as an unreachable warehouse does, so a unit test
that reads stored data gets a 503 and belongs to the integration tier)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from infra.kafka import Publisher
from infra.warehouse import Warehouse


class RecordingPublisher(Publisher):
    """Keeps every record it is given, in order, instead of sending it to a broker."""

    def __init__(self) -> None:  # no producer: nothing here talks to Kafka
        self.published: list[tuple[str, str | None, bytes]] = []
        self._next: defaultdict[str, int] = defaultdict(int)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish_many(
        self,
        topic: str,
        records: Sequence[tuple[str | None, bytes]],
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> list[tuple[int, int]]:
        """Record them (not their headers); each lands on partition 0 at the next offset."""
        landed = []
        for key, value in records:
            self.published.append((topic, key, value))
            landed.append((0, self._next[topic]))
            self._next[topic] += 1
        return landed


class _Unreachable:
    """A warehouse client whose every call fails."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"no warehouse in the unit tier ({name})")

        return fail


def no_warehouse() -> Warehouse:
    """A warehouse whose every call raises `WarehouseError` (the API answers 503)."""
    return Warehouse(_Unreachable(), "none://")
