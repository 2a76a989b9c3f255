"""A live rule's `webhook "NAME"` as rows of the delivery log: one per endpoint and rule record
(a batch read again adds none; one rule naming two webhooks one endpoint takes is one row), none
for shadow rules, no `rewrite` for a private tenant; the `rule` subscription as the API takes it
(the delivery itself: tests/integration/test_rule_actions.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.review import intake, webhooks
from infra.accounts import AccountsDB
from infra.accounts.models import Tenant
from infra.accounts.review import WebhookDelivery
from infra.errors import InvalidInput
from schemas.records import FiredRule, RuleAction, RulesOutcome, Verdict
from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BOX = webhooks.cipher(SecretStr("k" * 40))


def fired(name: str, *hooks: str) -> FiredRule:
    actions = [RuleAction(kind="webhook", value=h) for h in hooks]
    return FiredRule(rule=name, version="v1", actions=actions)


def verdict(n: int, *, tenant: str = "t1", live: tuple[FiredRule, ...] = (),
            shadow: tuple[FiredRule, ...] = ()) -> Verdict:  # fmt: skip
    return Verdict.model_validate(
        {"event_id": f"e{n}", "tenant": tenant, "source": "comments", "kind": "post",
         "item_id": str(n), "author": "a1", "occurred_at": NOW, "judged_at": NOW,
         "decision": "reject", "toxic": 0.9, "lang": "en", "model_version": "m",
         "policy_version": "p", "latency_ms": 1.0,
         "rewrite": {"text": "please be kind", "source": "offline"},
         "rules": RulesOutcome(ruleset_version=1, policy_decision="reject", fired=list(live),
                               shadow=list(shadow))}
    )  # fmt: skip


def rows(db: AccountsDB) -> list[tuple[str, str, str]]:
    with db.session() as s:
        found = s.query(WebhookDelivery).order_by(WebhookDelivery.id)
        return [(r.tenant, r.record_id, str(r.endpoint_id)) for r in found]


def test_one_row_per_endpoint_and_rule_record_and_none_for_shadow_rules(db: AccountsDB) -> None:
    with db.session() as s:
        every, _ = webhooks.create(s, "t1", "https://example.com/a", ["rule"], BOX)
        named, _ = webhooks.create(s, "t1", "https://example.com/b", ["rule"], BOX, [], ["x", "y"])
        webhooks.create(s, "t1", "https://example.com/c", ["rule"], BOX, [], ["z"])
        webhooks.create(s, "t1", "https://example.com/d", ["verdict"], BOX, ["approve"])
        ids = (str(every.id), str(named.id))
    batch = [
        verdict(1, live=(fired("both", "x", "y"),)),
        verdict(2, shadow=(fired("would", "x"),)),
        verdict(3, tenant="t2", live=(fired("elsewhere", "x"),)),
    ]
    assert intake.deliveries_of(db, batch) == 2
    assert intake.deliveries_of(db, batch) == 0  # read again after a restart: nothing new
    record = f"e1@{int(NOW.timestamp() * 1000)}#both"
    assert sorted(rows(db)) == sorted(("t1", record, i) for i in ids)


def test_a_private_tenant_s_rule_records_carry_no_rewrite(db: AccountsDB) -> None:
    with db.session() as s:
        s.add(Tenant(name="t1", privacy_mode=True))
        webhooks.create(s, "t1", "https://example.com/hook", ["rule"], BOX)
        webhooks.create(s, "t2", "https://example.com/hook", ["rule"], BOX)
    intake.deliveries_of(db, [verdict(1, live=(fired("r", "x"),)),
                              verdict(2, tenant="t2", live=(fired("r", "x"),))])  # fmt: skip
    with db.session() as s:
        data = {r.tenant: json.loads(r.body)["data"] for r in s.query(WebhookDelivery)}
    assert "rewrite" not in data["t1"]["verdict"]
    assert data["t2"]["verdict"]["rewrite"]["text"] == "please be kind"
    assert (data["t2"]["rule"], data["t2"]["webhooks"]) == ("r", ["x"])


def test_webhook_names_are_stored_and_read_back() -> None:
    stored = webhooks.stored_events(["rule", "action"], [], ["escalate", "spam-desk"])
    assert stored == "action rule:escalate rule:spam-desk"
    assert webhooks.event_types(stored) == (["action", "rule"], [])
    assert webhooks.webhook_names(stored) == ["escalate", "spam-desk"]
    assert webhooks.webhook_names(webhooks.stored_events(["rule"], [])) == []


@pytest.mark.parametrize(
    "names", [["escalate"], ["two words"], ["a:b"], ["x" * 65], [f"n{i:062d}" for i in range(4)]]
)
def test_wrong_webhook_names_are_refused(names: list[str]) -> None:
    events = ["action"] if names == ["escalate"] else ["rule"]  # names need the `rule` event
    with pytest.raises(InvalidInput) as refused:
        webhooks.stored_events(events, [], names)
    assert refused.value.code == "invalid_webhook_names"


def test_the_webhook_routes_take_and_show_rule_subscriptions(api: TestClient) -> None:
    admin = as_tenant(api, new_tenant())
    body = {"url": "https://example.com/h", "events": ["rule"], "webhook_names": ["escalate"]}
    created = api.post("/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["events"], created.json()["webhook_names"]) == (["rule"], ["escalate"])
    wrong = api.post(
        "/v1/webhooks", json={"url": "https://example.com/h", "webhook_names": ["escalate"]},
        headers=admin,
    )  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid_webhook_names"
    spaced = {**body, "webhook_names": ["two words"]}
    assert api.post("/v1/webhooks", json=spaced, headers=admin).status_code == 422
    listed = api.get("/v1/webhooks", headers=admin).json()
    assert [(h["events"], h["webhook_names"]) for h in listed] == [(["rule"], ["escalate"])]
