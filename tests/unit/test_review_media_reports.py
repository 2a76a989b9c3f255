"""Reports and appeals of an image or video: a report of a media item is a queue entry of kind
`media` with a count, as a text report is; a removal of it is appealed and overturned like a
post's (notices, action records, the strike taken back). The route's warehouse read is followed
through the real media worker in tests/integration/test_review_media.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.review import claims, decisions, items
from api.review.decisions import AppealIn, DecisionIn
from api.review.intake import media_subject_of
from infra.accounts import AccountsDB
from schemas.media import HashType, MediaHash, MediaVerdict
from schemas.moderation import ActionKind, Origin
from schemas.records import Decision
from schemas.rows import MEDIA_VERDICT_ROWS
from streams.strikes import StrikeState, apply_action

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS: dict[str, Any] = {"limit": 3, "window": 86_400, "now": NOW}


def image(tenant: str, decision: Decision = Decision.APPROVE) -> MediaVerdict:
    return MediaVerdict(
        event_id="media-m1", tenant=tenant, source="media", item_id="m1", author="owner-1",
        occurred_at=NOW, judged_at=NOW, media_type="image", url="https://example.com/a.png",
        decision=decision, reason="default", policy_version="p", latency_ms=1.0,
        hashes=[MediaHash(hash_type=HashType.SHA256, value="ab" * 32)],
    )  # fmt: skip


def report(db: AccountsDB, verdict: MediaVerdict, reporter: str) -> tuple[int, int, bool]:
    with db.session() as s:
        entry, counted = items.report(
            s, media_subject_of(verdict), reporter=reporter, category="sexual", text="",
            strikes=0, now=NOW,
        )  # fmt: skip
        return entry.id, entry.reports, counted


def test_reports_of_an_image_are_one_media_entry_with_a_count(db: AccountsDB) -> None:
    first, again, second = (report(db, image("t1"), r) for r in ("r1", "r1", "r2"))
    assert (first[1:], again[1:], second[1:]) == ((1, True), (1, False), (2, True))
    assert first[0] == again[0] == second[0]
    other = report(db, image("t2"), "r1")  # the same event id in another tenant: its own entry
    assert other[0] != first[0]
    with db.session() as s:
        entry = items.get(s, "t1", first[0])
        assert (entry.kind, entry.origin, entry.queue) == ("media", "report", "default")
        assert (entry.model_decision, entry.report_categories) == ("approve", "sexual")
        assert items.reporters(s, "t1", "media-m1") == ["r1", "r2"]


def test_a_report_of_an_image_in_review_joins_its_entry(db: AccountsDB) -> None:
    queued = image("t1", Decision.REVIEW)
    with db.session() as s:
        entry = items.enqueue(
            s, media_subject_of(queued), strikes=0, now=NOW, origin=Origin.VERDICT
        )
        ident = entry.id
    assert report(db, queued, "r1") == (ident, 1, True)


def _decide(db: AccountsDB, ident: int, who: str, action: str, reason: str) -> decisions.Outcome:
    with db.session() as s:
        claims.claim(s, "t1", ident, who, 600, NOW)
        row = items.holding(s, "t1", ident, who, NOW)
        return decisions.decide(
            s, row, DecisionIn(action=ActionKind(action), reason=reason), reviewer=who,
            reporters=items.reporters(s, "t1", row.event_id), appeal_window=3600, now=NOW,
        )  # fmt: skip


def test_a_removed_image_is_appealed_and_overturned_like_a_post(db: AccountsDB) -> None:
    ident, _, _ = report(db, image("t1"), "r1")
    removed = _decide(db, ident, "user:a", "remove", "sexual")
    assert (removed.action.kind, removed.action.effect, removed.action.origin) == (
        "media", "removed", "report",
    )  # fmt: skip
    assert [(n.recipient, n.recipient_id) for n in removed.notices] == [
        ("author", "owner-1"), ("reporter", "r1"),
    ]  # fmt: skip
    assert removed.notices[0].appeal_until is not None
    assert "Your media m1 was removed" in removed.notices[0].statement
    counted = apply_action(StrikeState(), removed.action, **LIMITS)
    assert counted.strike is not None

    with db.session() as s:
        body = AppealIn(action_id=removed.action.action_id, author="owner-1")
        appeal = decisions.appeal(s, "t1", body, appeal_window=3600, now=NOW)
        assert (appeal.kind, appeal.queue, appeal.excluded_reviewer) == ("media", "appeals",
                                                                         "user:a")  # fmt: skip
        appeal_id = appeal.id
    overturned = _decide(db, appeal_id, "user:b", "overturn", "no_violation")
    assert (overturned.action.kind, overturned.action.effect, overturned.action.appeal_of) == (
        "media", "visible", removed.action.action_id,
    )  # fmt: skip
    assert sorted((n.recipient, n.action) for n in overturned.notices) == [
        ("author", "overturn"), ("reporter", "overturn"),
    ]  # fmt: skip
    back = apply_action(counted.state, overturned.action, **LIMITS)
    assert back.strike is not None
    assert back.strike.revoked
    assert back.state.strikes == {}


def test_a_stored_media_verdict_reads_back_as_the_verdict() -> None:
    """What `api.queries.get_media_verdict` turns a `media_verdicts` row into."""
    verdict = image("t1", Decision.REVIEW)
    row = dict(zip(MEDIA_VERDICT_ROWS.columns, MEDIA_VERDICT_ROWS.row(verdict), strict=True))
    assert MEDIA_VERDICT_ROWS.record(row) == verdict
