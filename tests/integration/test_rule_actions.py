"""Rule actions carried out by the review intake, reading `verdicts.text` on the embedded broker:
a live rule's `queue "NAME"` puts the item in that queue whatever the decision (once, though the
verdict is read twice), and its `webhook "NAME"` sends one signed `rule` record to each endpoint
subscribed to it. Shadow rules do neither."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from api.review import intake
from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.records import Decision, FiredRule, RuleAction, RulesOutcome, Verdict
from tests.support.accounts import as_tenant, state_of
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.verdicts import publish, verdict
from tests.support.webhook_receiver import WebhookReceiver


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def ruled(tenant: str, n: int, decision: str, *, fired: tuple[FiredRule, ...] = (),
          shadow: tuple[FiredRule, ...] = ()) -> Verdict:  # fmt: skip
    """Verdict `n` of `tenant` as the worker publishes it after its rules ran."""
    rules = RulesOutcome(
        ruleset_version=3, policy_decision=Decision.APPROVE, fired=list(fired),
        shadow=list(shadow),
    )  # fmt: skip
    return verdict(tenant, n, author="rule-author").model_copy(
        update={"decision": Decision(decision), "rules": rules}
    )


def rule(name: str, *actions: tuple[str, str]) -> FiredRule:
    return FiredRule(
        rule=name, version=f"v-{name}",
        actions=[RuleAction(kind=kind, value=value) for kind, value in actions],
    )  # fmt: skip


def queue_items(api: TestClient, queue: str, headers: dict[str, str]) -> list[Any]:
    return list(ok(api.get(f"/v1/review/queues/{queue}/items", headers=headers))["data"])


def test_a_live_rule_s_queue_action_routes_the_item_once_whatever_the_decision(
    api: TestClient, settings: Settings, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    to_priority = rule("urgent", ("decision", "reject"), ("queue", "priority"))
    rejected = ruled(tenant, 1, "reject", fired=(to_priority,))
    reviewed = ruled(tenant, 2, "review", fired=(to_priority,))
    shadowed = ruled(tenant, 3, "approve", shadow=(to_priority,))
    refused = ruled(tenant, 4, "review", fired=(rule("odd", ("queue", "appeals")),))
    marker = ruled(tenant, 5, "review")
    # One author, so one partition, read in this order: `rejected` twice, as after a restart.
    batch = [rejected, reviewed, shadowed, refused, rejected, marker]
    asyncio.run(publish(settings.kafka_bootstrap or "", batch))

    wait_for(
        lambda: marker.event_id in {e["event_id"] for e in queue_items(api, "default", admin)},
        120, what="the marker verdict in the default queue",
    )  # fmt: skip
    priority = queue_items(api, "priority", admin)
    assert sorted((e["event_id"], e["model_decision"]) for e in priority) == [
        (rejected.event_id, "reject"), (reviewed.event_id, "review"),
    ]  # fmt: skip
    default = {e["event_id"] for e in queue_items(api, "default", admin)}
    assert default == {refused.event_id, marker.event_id}  # `appeals` is not a rule's to fill
    assert shadowed.event_id not in default | {e["event_id"] for e in priority}
    listed = {q["name"]: q["open"] for q in ok(api.get("/v1/review/queues", headers=admin))}
    assert listed["priority"] == 2  # an unconfigured queue lists while it holds items

    # The batch read again, as the intake does after a crash before its commit: nothing new.
    assert intake.enqueue_all(state_of(api).accounts, warehouse, batch) == 5
    assert len(queue_items(api, "priority", admin)) == 2
    assert len(queue_items(api, "default", admin)) == 2


def test_a_live_rule_s_webhook_reaches_each_subscribed_endpoint_once(
    api: TestClient, settings: Settings
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    escalate = rule("threat", ("decision", "review"), ("webhook", "escalate"))
    fired = ruled(tenant, 1, "review", fired=(escalate,))
    shadowed = ruled(tenant, 2, "approve", shadow=(escalate,))
    other = ruled(tenant, 3, "approve", fired=(rule("spam", ("webhook", "spam-desk")),))
    with (
        WebhookReceiver() as every, WebhookReceiver() as named, WebhookReceiver() as elsewhere,
        WebhookReceiver() as verdicts_only,
    ):  # fmt: skip
        hooks = {}
        for receiver, body in (
            (every, {"events": ["rule"]}),
            (named, {"events": ["rule"], "webhook_names": ["escalate"]}),
            (elsewhere, {"events": ["rule"], "webhook_names": ["nobody"]}),
            (verdicts_only, {"events": ["verdict"], "verdict_decisions": ["reject"]}),
        ):
            hook = ok(api.post("/v1/webhooks", json={"url": receiver.url, **body},
                               headers=admin), 201)  # fmt: skip
            receiver.secret, hooks[id(receiver)] = hook["secret"], hook
        assert hooks[id(named)]["webhook_names"] == ["escalate"]
        asyncio.run(publish(settings.kafka_bootstrap or "", [fired, shadowed, fired, other]))
        wait_for(lambda: len(every.deliveries) == 2, 120, what="two rule deliveries")
        wait_for(lambda: len(named.deliveries) == 1, 60, what="the named endpoint's delivery")
        logs = {
            id(r): ok(api.get(f"/v1/webhooks/{hooks[id(r)]['id']}/deliveries", headers=admin))
            for r in (every, named, elsewhere, verdicts_only)
        }
    # `other` was read after the replayed `fired`: every log is complete.
    newest_first = [f"{other.event_id}@{ms(other)}#spam", f"{fired.event_id}@{ms(fired)}#threat"]
    assert [d["record_id"] for d in logs[id(every)]] == newest_first
    assert len(logs[id(named)]) == 1
    assert logs[id(elsewhere)] == logs[id(verdicts_only)] == []
    [got] = named.deliveries
    assert (got.event_type, got.signature_ok) == ("rule", True)
    assert got.body["type"] == "rule"
    assert got.body["id"] == f"{fired.event_id}@{ms(fired)}#threat"
    data = got.body["data"]
    assert (data["rule"], data["version"], data["webhooks"]) == ("threat", "v-threat", ["escalate"])
    assert data["actions"] == [{"kind": "decision", "value": "review"},
                               {"kind": "webhook", "value": "escalate"}]  # fmt: skip
    assert Verdict.model_validate(data["verdict"]) == fired


def ms(v: Verdict) -> int:
    return int(v.judged_at.timestamp() * 1000)
