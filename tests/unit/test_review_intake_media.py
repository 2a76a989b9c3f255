"""An image or video the media worker sends to review becomes a queue entry of kind `media`
(the browser test in tests/integration/test_console.py follows one from the worker to the
console's item page)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.review import items
from api.review.intake import media_subject_of
from schemas.media import MediaVerdict
from schemas.moderation import Origin
from schemas.records import Decision
from tests.support.accounts import state_of
from tests.support.read_rows import new_tenant

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def media_verdict(tenant: str, scores: dict[str, float]) -> MediaVerdict:
    return MediaVerdict(
        event_id=f"{tenant}-m1", tenant=tenant, source="media", item_id="m1", author="owner-1",
        occurred_at=NOW, judged_at=NOW, media_type="image", url="https://example.com/a.png",
        decision=Decision.REVIEW, reason="bank_match", scores=scores, policy_version="p",
        latency_ms=1.0,
    )  # fmt: skip


def test_a_media_review_verdict_is_a_media_entry_of_its_queue(api: TestClient) -> None:
    tenant = new_tenant()
    subject = media_subject_of(media_verdict(tenant, {"nsfw": 0.3, "violence": 0.6}))
    assert (subject.kind, subject.lang, subject.toxic) == ("media", "und", 0.6)
    assert subject.labels() == frozenset({"violence"})
    with state_of(api).accounts.session() as session:
        entry = items.enqueue(session, subject, strikes=0, now=NOW, origin=Origin.VERDICT)
        again = items.enqueue(session, subject, strikes=0, now=NOW, origin=Origin.VERDICT)
        assert (entry.kind, entry.queue, entry.model_decision) == ("media", "default", "review")
        assert again.id == entry.id  # a replayed verdict finds its entry


def test_media_without_classifier_scores_waits_by_age_alone() -> None:
    subject = media_subject_of(media_verdict(new_tenant(), {}))
    assert (subject.toxic, subject.labels()) == (0.0, frozenset())
