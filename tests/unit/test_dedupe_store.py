"""The dedupe memory and the published ledger survive a restart: a new pipeline (a restarted
worker) on the same file skips an item it judged before and reuses scores, and an event delivered
again after a crash is not published twice. No broker, no model: a counting classifier."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from streams.dedupe import DedupeStore, Ledger
from streams.pipeline import RawRecord, TextPipeline
from streams.policy import PolicyBook
from streams.text.classifier import Classifier
from tests.support.classifiers import Counting
from tests.support.events import as_json, post_event


def record(event_id: str, text: str, offset: int, external_id: str | None = None) -> RawRecord:
    value = as_json(post_event(event_id, text, external_id=external_id))
    return RawRecord("events.text", 0, offset, b"demo:user-1", value)


def worker(path: Path, classifier: Classifier | None = None) -> TextPipeline:
    """What a (re)started worker builds: a pipeline on the store at `path`."""
    return TextPipeline(
        classifier or Counting(), PolicyBook(), cache_size=1000, store=DedupeStore(path)
    )


def test_an_item_judged_before_a_restart_is_not_judged_again(tmp_path: Path) -> None:
    store = tmp_path / "dedupe.sqlite3"
    first = worker(store).process([record("e1", "you idiot", 0, external_id="item-1")])
    assert [v.event_id for v in first.verdicts] == ["e1"]

    restarted = worker(store)
    again = restarted.process(
        [
            record("e2", "you idiot", 1, external_id="item-1"),  # the same item, a new event
            record("e1", "you idiot", 0, external_id="item-1"),  # the same event, redelivered
        ]
    )
    assert again.duplicates == 1
    assert [v.event_id for v in again.verdicts] == ["e1"]  # judged again: one verdict per event


def test_scores_are_reused_across_a_restart_but_not_across_models(tmp_path: Path) -> None:
    store = tmp_path / "dedupe.sqlite3"
    worker(store).process([record("a1", "You   IDIOT", 0)])

    same_model = Counting()
    reused = worker(store, same_model).process([record("a2", "you idiot", 1)])
    assert same_model.texts == []  # nothing classified: the scores came from the store
    assert reused.reused_scores == 1
    (verdict,) = reused.verdicts
    assert verdict.duplicate_of == "a1"
    assert verdict.spans == [(4, 9)]  # realigned to this text's words

    new_model = Counting("counting-v2")
    worker(store, new_model).process([record("a3", "you idiot", 2)])
    assert new_model.texts == ["you idiot"]


def test_the_ledger_publishes_each_key_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "dedupe.sqlite3"
    ledger = Ledger(1000, DedupeStore(path))
    keys = [b"a" * 16, b"b" * 16, b"a" * 16]
    todo = ledger.unpublished(keys)
    assert todo == [0, 1]  # a key twice in one batch (a client's retry) is published once
    ledger.record([keys[i] for i in todo])
    restarted = Ledger(1000, DedupeStore(path))
    assert restarted.unpublished([b"a" * 16, b"c" * 16]) == [1]


def test_rows_past_the_ttl_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "dedupe.sqlite3"
    store = DedupeStore(path, ttl_days=1)
    store.PRUNE_EVERY = 0.0
    store.table("items")
    store.write({"items": [(b"old", "e-old")]})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE items SET at = at - 2 * 86400")
    store.write({"items": [(b"new", "e-new")]})
    assert store.read("items", [b"old", b"new"]) == {b"new": "e-new"}
