"""Verdicts to webhooks: an endpoint that opted in gets the verdicts of the decisions it chose,
signed and through the same deliverer as actions; a batch read again (the intake restarted before
committing its offsets) adds no second delivery; a tenant in privacy mode gets no rewrite."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.review import intake, webhooks
from infra.accounts import AccountsDB
from infra.accounts.models import Tenant
from infra.accounts.review import WebhookDelivery
from infra.errors import InvalidInput
from infra.settings import ReviewSettings
from schemas.records import Verdict
from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant
from tests.support.webhook_receiver import WebhookReceiver

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BOX = webhooks.cipher(SecretStr("k" * 40))


def verdict(n: int, decision: str, *, tenant: str = "t1", later: float = 0) -> Verdict:
    rewrite = {"text": "please be kind", "source": "offline"} if decision != "approve" else None
    return Verdict.model_validate(
        {"event_id": f"e{n}", "tenant": tenant, "source": "comments", "kind": "post",
         "item_id": str(n), "author": "a1", "occurred_at": NOW,
         "judged_at": NOW + timedelta(seconds=later), "decision": decision, "toxic": 0.9,
         "lang": "en", "model_version": "m", "policy_version": "p", "latency_ms": 1.0,
         "rewrite": rewrite}
    )  # fmt: skip


def rows(db: AccountsDB) -> list[WebhookDelivery]:
    with db.session() as s:
        return list(s.query(WebhookDelivery).order_by(WebhookDelivery.id))


def deliver(db: AccountsDB, settings: ReviewSettings) -> None:
    async def run() -> None:
        deliverer = webhooks.Deliverer(db, settings, BOX)
        task = asyncio.create_task(deliverer.run(interval=0.01))
        async with asyncio.timeout(30):
            while any(r.state == "pending" for r in rows(db)):
                await asyncio.sleep(0.02)
        deliverer.stop()
        await task
        await deliverer.aclose()

    asyncio.run(run())


def test_verdicts_reach_the_endpoints_that_chose_their_decision_once_and_signed(
    db: AccountsDB,
) -> None:
    settings = ReviewSettings(webhook_backoff=0.01, webhook_allowed_networks=["127.0.0.1/32"])
    batch = [verdict(1, "approve"), verdict(2, "reject"), verdict(3, "review"),
             verdict(4, "reject", tenant="t2")]  # fmt: skip
    with WebhookReceiver() as everything, WebhookReceiver() as removals:
        with db.session() as s:
            _, everything.secret = webhooks.create(s, "t1", everything.url, ["verdict"], BOX)
            _, removals.secret = webhooks.create(
                s, "t1", removals.url, ["action", "verdict"], BOX, ["reject"]
            )
            webhooks.create(s, "t1", everything.url, ["action", "notice"], BOX)  # not opted in
        assert intake.deliveries_of(db, batch) == 4
        assert intake.deliveries_of(db, batch) == 0  # read again after a restart: nothing new
        assert intake.deliveries_of(db, [verdict(2, "reject", later=60)]) == 2  # judged anew
        deliver(db, settings)
    assert {r.state for r in rows(db)} == {"delivered"}
    assert sorted(d.body["data"]["event_id"] for d in everything.deliveries) == ["e1", "e2", "e2",
                                                                                 "e3"]  # fmt: skip
    assert [d.body["data"]["event_id"] for d in removals.deliveries] == ["e2", "e2"]
    got = everything.deliveries + removals.deliveries
    assert all(d.signature_ok and d.event_type == "verdict" for d in got)
    assert {d.body["id"] for d in removals.deliveries} == {
        f"e2@{int(NOW.timestamp() * 1000)}", f"e2@{int(NOW.timestamp() * 1000) + 60_000}",
    }  # fmt: skip


def test_a_private_tenant_s_verdicts_carry_no_rewrite(db: AccountsDB) -> None:
    with db.session() as s:
        s.add(Tenant(name="t1", privacy_mode=True))
        webhooks.create(s, "t1", "https://example.com/hook", ["verdict"], BOX)
        webhooks.create(s, "t2", "https://example.com/hook", ["verdict"], BOX)
    intake.deliveries_of(db, [verdict(1, "reject"), verdict(2, "reject", tenant="t2")])
    data = {r.tenant: json.loads(r.body)["data"] for r in rows(db)}
    assert "rewrite" not in data["t1"]
    assert data["t2"]["rewrite"]["text"] == "please be kind"


@pytest.mark.parametrize(
    ("events", "decisions", "stored"),
    [
        (["verdict"], [], "verdict"),
        (["verdict", "action"], ["reject", "review"], "action verdict:reject verdict:review"),
        (["verdict"], ["approve", "review", "reject"], "verdict"),
    ],
)
def test_decision_filters_are_stored_and_read_back(
    events: list[str], decisions: list[str], stored: str
) -> None:
    assert webhooks.stored_events(events, decisions) == stored
    assert webhooks.event_types(stored) == (
        sorted(set(events)), sorted(decisions) if len(decisions) < 3 else []
    )  # fmt: skip


@pytest.mark.parametrize(
    ("events", "decisions"), [(["verdicts"], []), (["action"], ["reject"]), (["verdict"], ["no"])]
)
def test_wrong_subscriptions_are_refused(events: list[str], decisions: list[str]) -> None:
    with pytest.raises(InvalidInput):
        webhooks.stored_events(events, decisions)


def test_the_webhook_routes_take_and_show_verdict_subscriptions(api: TestClient) -> None:
    admin = as_tenant(api, new_tenant())
    body = {"url": "https://example.com/h", "events": ["verdict"], "verdict_decisions": ["reject"]}
    created = api.post("/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["events"], created.json()["verdict_decisions"]) == (
        ["verdict"], ["reject"],
    )  # fmt: skip
    default = api.post("/v1/webhooks", json={"url": "https://example.com:44321/h"}, headers=admin)
    assert default.json()["events"] == ["action", "notice"]  # verdicts are opt-in
    assert default.json()["url"] == "https://example.com:44321/h"  # any port up to 65535
    too_far = api.post("/v1/webhooks", json={"url": "https://example.com:65536/h"}, headers=admin)
    assert too_far.status_code == 422
    wrong = api.post(
        "/v1/webhooks", json={"url": "https://example.com/h", "verdict_decisions": ["reject"]},
        headers=admin,
    )  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid_decisions"
    listed = api.get("/v1/webhooks", headers=admin).json()
    assert [h["verdict_decisions"] for h in listed] == [["reject"], []]
