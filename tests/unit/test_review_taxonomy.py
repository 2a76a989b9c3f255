"""A tenant's own reasons beside the default taxonomy: added, changed and removed per tenant,
used by decisions (the action's DSA category, the notices' title) and by the statements of
reasons, and unknown to every other tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema_rs
import pytest

from api.review import claims, decisions, items, taxonomy
from api.review.decisions import DecisionIn
from api.review.dsa import statement
from api.review.items import Subject
from api.review.taxonomy import ReasonIn
from infra.accounts import AccountsDB
from infra.errors import Conflict, InvalidInput
from schemas.dsa import STATEMENT_SCHEMA
from schemas.moderation import REASONS, ActionKind, Origin

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DOXXING = ReasonIn(
    title="Doxxing a streamer",
    dsa_category="STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    ground="illegal",
)


def test_a_tenant_adds_changes_and_removes_its_own_reasons(db: AccountsDB) -> None:
    with db.session() as s:
        assert taxonomy.put(s, "t1", "doxxing", DOXXING, NOW) is True
        renamed = DOXXING.model_copy(update={"title": "Dox"})
        assert taxonomy.put(s, "t1", "doxxing", renamed, NOW) is False  # changed, not new
        with pytest.raises(Conflict):  # the defaults are every tenant's
            taxonomy.put(s, "t1", "insult", DOXXING, NOW)
        with pytest.raises(InvalidInput):
            taxonomy.put(s, "t1", "odd", DOXXING.model_copy(update={"dsa_category": "X"}), NOW)
    with db.session() as s:
        mine = taxonomy.reasons_of(s, "t1")
        assert list(mine)[: len(REASONS)] == list(REASONS)  # the defaults first, as they were
        assert (mine["doxxing"].title, mine["doxxing"].ground) == ("Dox", "illegal")
        assert "doxxing" not in taxonomy.reasons_of(s, "t2")
        with pytest.raises(InvalidInput) as unknown:
            taxonomy.lookup(s, "t2", "doxxing", what="category")
        assert unknown.value.code == "unknown_category"
        assert taxonomy.drop(s, "t2", "doxxing") is False  # not the other tenant's to remove
        assert taxonomy.drop(s, "t1", "doxxing") is True
        assert "doxxing" not in taxonomy.reasons_of(s, "t1")


def test_a_decision_for_a_tenants_reason_carries_its_category_and_title(db: AccountsDB) -> None:
    subject = Subject(
        tenant="t1", event_id="e1", item_id="1", author="a1", source="comments", kind="post",
        occurred_at=NOW, lang="en", scores={"toxic": 0.5}, toxic=0.5, model_decision="review",
    )  # fmt: skip
    with db.session() as s:
        taxonomy.put(s, "t1", "doxxing", DOXXING, NOW)
        entry = items.enqueue(s, subject, strikes=0, now=NOW, origin=Origin.VERDICT)
        claims.claim(s, "t1", entry.id, "user:a", 600, NOW)
        row = items.holding(s, "t1", entry.id, "user:a", NOW)
        body = DecisionIn(action=ActionKind.REMOVE, reason="doxxing")
        outcome = decisions.decide(
            s, row, body, reviewer="user:a", reporters=[], appeal_window=3600, now=NOW
        )
    action = outcome.action
    assert (action.reason, action.dsa_category) == (
        "doxxing", "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    )  # fmt: skip
    assert [n.reason_title for n in outcome.notices] == ["Doxxing a streamer"]

    with db.session() as s:
        reasons = taxonomy.reasons_of(s, "t1")
    exported = action.model_dump(mode="python") | {"reports": 0}
    doc = statement("t1", exported, reasons)
    assert "Doxxing a streamer" in doc["decision_facts"]
    assert doc["category"] == "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS"
    assert doc["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert list(jsonschema_rs.validator_for(STATEMENT_SCHEMA).iter_errors(doc)) == []
