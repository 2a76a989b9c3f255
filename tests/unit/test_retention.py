"""The retention rules of the durable embedded broker, on batches listed by hand."""

from __future__ import annotations

import math

from infra.retention import Batch, expired, next_look

NOW = 10_000.0


def batches(*ages: float, step: int = 10) -> list[Batch]:
    """Batches of `step` records, oldest first, written `ages` seconds ago."""
    return [Batch(f"k{i}", i * step, NOW - age) for i, age in enumerate(ages)]


def test_read_batches_go_once_old_enough_and_only_from_the_oldest_on() -> None:
    listed = batches(50, 40, 30, 5, 1)
    # A reader is at 35: batches 0 (0-9), 1 (10-19) and 2 (20-29) are read; 3 (30-39) is not.
    assert expired(listed, NOW, retention=None, floor=35, after_read=20) == listed[:3]
    assert expired(listed, NOW, retention=None, floor=35, after_read=35) == listed[:2]
    assert expired(listed, NOW, retention=None, floor=35, after_read=60) == []
    assert expired(listed, NOW, retention=None, floor=0, after_read=0) == []


def test_the_newest_batch_always_stays() -> None:
    listed = batches(50, 40)
    assert expired(listed, NOW, retention=None, floor=1_000, after_read=0) == listed[:1]
    assert expired(listed, NOW, retention=1, floor=1_000, after_read=0) == listed[:1]
    assert expired(listed[:1], NOW, retention=1, floor=1_000, after_read=0) == []


def test_retention_by_time_needs_no_reader() -> None:
    listed = batches(7_000, 6_000, 100, 50)
    assert expired(listed, NOW, retention=3_600, floor=0, after_read=0) == listed[:2]


def test_a_young_batch_keeps_older_unread_ones_from_leaving_holes() -> None:
    listed = batches(7_000, 100, 6_000, 50)  # out of order: 2 is old, but 1 stays
    assert expired(listed, NOW, retention=3_600, floor=0, after_read=0) == listed[:1]


def test_when_to_look_again() -> None:
    kept = batches(5, 1)
    assert next_look(kept, floor=10, retention=None, after_read=20) == kept[0].written + 20
    assert next_look(kept, floor=5, retention=None, after_read=20) == math.inf  # unread
    assert next_look(kept, floor=5, retention=3_600, after_read=20) == kept[0].written + 3_600
    assert next_look(kept[:1], floor=10, retention=None, after_read=20) == math.inf
    assert next_look([], floor=10, retention=60, after_read=20) == math.inf


def test_the_catalogue_names_every_topic_the_sink_stores() -> None:
    from infra.warehouse.sink import ROUTES
    from schemas.topics import READERS, SINK_GROUP

    assert set(READERS[SINK_GROUP]) == set(ROUTES)
