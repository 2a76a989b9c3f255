"""Statements of reasons for every restriction: reviewers' decisions and the models' own
rejections (fully automated), read from the embedded warehouse through the API, in batches that
validate against the transcribed Transparency Database schema; the transparency summary counts
automated and human restrictions apart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from infra.warehouse import Warehouse
from schemas.dsa import BATCH_SCHEMA
from tests.support.accounts import as_tenant, state_of
from tests.support.read_rows import T0, action, new_tenant, store, store_actions, verdict_row

PERIOD = {
    "since": (T0 - timedelta(hours=1)).isoformat(),
    "until": (T0 + timedelta(days=1)).isoformat(),
}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_the_models_rejections_have_statements_of_reasons_too(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    state_of(api).settings.posts.modes[tenant] = "mask"  # threads mask; chat keeps withholding
    store(warehouse, [
        verdict_row(tenant, "r1", toxic=0.9, scores={"toxic": 0.9, "threat": 0.8}),
        verdict_row(tenant, "r2", minutes=1, toxic=0.95, scores={"toxic": 0.95, "insult": 0.7}),
        verdict_row(tenant, "c1", minutes=2, toxic=0.9, kind="chat_message", source="chat"),
        verdict_row(tenant, "ok", minutes=3, toxic=0.1),
        verdict_row(tenant, "rv", minutes=4, toxic=0.5),
    ])  # fmt: skip
    removal = action(tenant, "rv", reason="harassment", minutes=4)
    store_actions(warehouse, [removal])
    admin = as_tenant(api, tenant)

    statements: list[dict[str, Any]] = []
    after: str | None = ""
    while after is not None:  # batches of two, followed by `next`
        batch = ok(api.get("/v1/dsa/statements", headers=admin,
                           params=PERIOD | {"limit": 2, "after": after}))  # fmt: skip
        validator = jsonschema_rs.validator_for(BATCH_SCHEMA)
        assert [e.message for e in validator.iter_errors(batch["batch"])] == []
        statements += batch["batch"]["statements"]
        after = batch["next"]

    assert [(s["puid"], s["automated_decision"], s["category"], s["decision_visibility"])
            for s in statements] == [
        (f"{tenant}:{removal.action_id}", "AUTOMATED_DECISION_NOT_AUTOMATED",
         "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", ["DECISION_VISIBILITY_CONTENT_REMOVED"]),
        (f"{tenant}:verdict:c1", "AUTOMATED_DECISION_FULLY",
         "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", ["DECISION_VISIBILITY_CONTENT_REMOVED"]),
        (f"{tenant}:verdict:r1", "AUTOMATED_DECISION_FULLY", "STATEMENT_CATEGORY_VIOLENCE",
         ["DECISION_VISIBILITY_OTHER"]),
        (f"{tenant}:verdict:r2", "AUTOMATED_DECISION_FULLY",
         "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", ["DECISION_VISIBILITY_OTHER"]),
    ]  # fmt: skip
    assert all(s["automated_detection"] == "Yes" for s in statements)  # the models flagged all

    summary = ok(api.get("/v1/dsa/summary", headers=admin, params=PERIOD))
    assert (summary["restrictions"], summary["human_restrictions"],
            summary["automated_restrictions"]) == (4, 1, 3)  # fmt: skip
    assert summary["by_category"] == {
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH": 3, "STATEMENT_CATEGORY_VIOLENCE": 1,
    }  # fmt: skip
    assert (summary["automated_detection"], summary["human_only"]) == (4, 0)
    assert summary["decisions"] == 1
