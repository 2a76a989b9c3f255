"""Warehouse rows read off the wire records (schemas/rows.py): columns, rows and the way back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.events import Kind
from schemas.media import BankEntry, MediaHash, MediaMatch, MediaVerdict
from schemas.records import ContextEffect, DeadLetter, Decision, RewriteSuggestion, Verdict
from schemas.rows import (
    BANK_ENTRY_ROWS,
    BLOCK_CHANGE_ROWS,
    DEAD_LETTER_ROWS,
    MEDIA_VERDICT_ROWS,
    STRIKE_ROWS,
    VERDICT_ROWS,
    RecordRows,
)
from schemas.strikes import BlockChange, Strike

NOW = datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)


def verdict(**changes: Any) -> Verdict:
    return Verdict(
        event_id="e1", tenant="acme", source="comments", kind=Kind.POST, item_id="i1",
        author="ann", occurred_at=NOW, judged_at=NOW, decision=Decision.REJECT, toxic=0.9,
        scores={"toxic": 0.9}, lang="en", spans=[(0, 3)], model_version="m",
        policy_version="p", latency_ms=12.5,
    ).model_copy(update=changes)  # fmt: skip


def media_verdict() -> MediaVerdict:
    return MediaVerdict(
        event_id="m1", tenant="acme", source="media", item_id="i", author="ann", occurred_at=NOW,
        judged_at=NOW, media_type="image", url="https://e.com/a.png", decision=Decision.REJECT,
        reason="seen_match", hashes=[MediaHash(hash_type="pdq", value="ab" * 32, at_s=1.5)],
        matches=[
            MediaMatch(kind="seen", hash_type="pdq", distance=3, decision="reject", event_id="m0"),
            MediaMatch(kind="bank", hash_type="pdq", distance=0, decision="reject", entry_id="b"),
        ],
        scores={"nsfw": 0.1}, policy_version="p", latency_ms=1.0,
    )  # fmt: skip


RECORDS: list[tuple[RecordRows[Any], BaseModel]] = [
    (VERDICT_ROWS, verdict()),
    (
        VERDICT_ROWS,
        verdict(
            rewrite=RewriteSuggestion(text="gentler", toxic=0.1, source="offline"),
            context=ContextEffect(items=1, toxic_alone=0.4, toxic_in_context=0.9, raised=True),
        ),
    ),
    (MEDIA_VERDICT_ROWS, media_verdict()),
    (
        DEAD_LETTER_ROWS,
        DeadLetter(
            topic="events.text", partition=1, offset=7, reason="invalid_json", detail="d",
            raw="{x", raw_size=2, failed_at=NOW,
        ),
    ),
    (
        BANK_ENTRY_ROWS,
        BankEntry(
            tenant="acme", bank="b", entry_id="b:pdq:1", hash_type="pdq", value="ab" * 32,
            label="l", source="s", decision="reject", updated_at=NOW,
        ),
    ),
    (
        STRIKE_ROWS,
        Strike(
            strike_id="strike:e1", tenant="acme", author="ann", verdict_event_id="e1",
            source="chat", occurred_at=NOW, strikes=2, limit=3, window_s=60,
        ),
    ),
    (
        BLOCK_CHANGE_ROWS,
        BlockChange(change_id="c", tenant="acme", author="ann", action="block", at=NOW,
                    actor="strikes"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "record"), RECORDS)
def test_a_row_reads_back_as_the_record_it_was_stored_from(
    rows: RecordRows[Any], record: BaseModel
) -> None:
    stored = dict(zip(rows.columns, rows.row(record), strict=True))
    naive = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in stored.items()}
    assert rows.record(naive) == record  # the warehouse hands back times without a zone


@pytest.mark.parametrize(
    "rows",
    [VERDICT_ROWS, MEDIA_VERDICT_ROWS, DEAD_LETTER_ROWS, BANK_ENTRY_ROWS, STRIKE_ROWS,
     BLOCK_CHANGE_ROWS],
)  # fmt: skip
def test_every_stored_field_is_a_column_in_the_models_order(rows: RecordRows[Any]) -> None:
    fields = [f for f in rows.model.model_fields if f not in rows.not_stored]
    assert rows.columns == (*(rows.renamed.get(f, f) for f in fields), *rows.computed)
    assert "schema_version" not in rows.columns


def test_a_verdict_row_holds_what_clickhouse_takes() -> None:
    row = dict(zip(VERDICT_ROWS.columns, VERDICT_ROWS.row(verdict()), strict=True))
    assert (row["kind"], row["decision"]) == ("post", "reject")
    assert type(row["decision"]) is str  # the enum's value
    assert (row["rewrite"], row["context"]) == ("", "")  # a nested model as JSON, '' for none
    assert row["spans"] == [(0, 3)]


def test_a_media_verdict_row_keeps_hashes_as_tuples_and_its_matched_events() -> None:
    row = dict(
        zip(MEDIA_VERDICT_ROWS.columns, MEDIA_VERDICT_ROWS.row(media_verdict()), strict=True)
    )
    assert row["hashes"] == [("pdq", "ab" * 32, 1.5)]
    assert row["matched_events"] == ["m0"]
    assert "kind" not in row


def test_a_strike_limit_is_stored_as_strike_limit() -> None:
    assert "strike_limit" in STRIKE_ROWS.columns
    assert "limit" not in STRIKE_ROWS.columns


def test_scores_read_back_within_bounds() -> None:
    stored = dict(zip(VERDICT_ROWS.columns, VERDICT_ROWS.row(verdict()), strict=True))
    stored |= {"toxic": 1.0000001, "scores": {"toxic": 1.0000001, "insult": -1e-9}}
    back = VERDICT_ROWS.record(stored)
    assert back.toxic == 1.0
    assert back.scores == {"toxic": 1.0, "insult": 0.0}
