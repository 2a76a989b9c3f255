"""Rules on the real stack: counters that a worker SIGKILL and a replay neither lose nor count
twice (the real broker), rules saved through the API applied by a running worker without a
restart, shadow rules reaching the warehouse and compared with live outcomes, and backtests
over stored verdicts in the embedded ClickHouse."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from infra.accounts import AccountsDB
from infra.accounts.models import Tenant, TenantRules
from infra.broker import EmbeddedBroker
from infra.kafka import Publisher, ensure_topics
from infra.warehouse import Warehouse
from schemas.topics import EVENTS_TEXT, VERDICTS_TEXT
from tests.support.accounts import as_tenant
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant, store, verdict_row
from tests.support.settings import settings_for
from tests.support.stack import Worker

COUNTING = """
counter posts = count by author within 1h

rule flood:
    when posts >= 3
    then reject, label "flood"
"""


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path / "broker", durable=False) as running:
        asyncio.run(ensure_topics(running.bootstrap))
        yield running


def _verdicts(bootstrap: str, tenant: str) -> list[dict[str, Any]]:
    """Every verdict of `tenant` on the topic, copies included."""

    async def run() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            VERDICTS_TEXT.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            group_id=f"reader-{uuid.uuid4().hex}", fetch_max_wait_ms=100,
        )  # fmt: skip
        await consumer.start()
        try:
            found: list[dict[str, Any]] = []
            for _ in range(6):
                batch = await consumer.getmany(timeout_ms=400)
                found += [json.loads(r.value or b"{}") for rs in batch.values() for r in rs]
            return [v for v in found if v.get("tenant") == tenant]
        finally:
            await consumer.stop()

    return asyncio.run(run())


def _publish(bootstrap: str, events: list[dict[str, Any]]) -> None:
    async def run() -> None:
        async with Publisher(bootstrap) as publisher:
            for event in events:  # one at a time, in order, as an upstream app sends them
                key = f"{event['tenant']}:{event['payload']['author']}"
                await publisher.publish_many(EVENTS_TEXT.name, [(key, json.dumps(event).encode())])

    asyncio.run(run())


def _event(event_id: str, tenant: str, minutes: int) -> dict[str, Any]:
    event = post_event(event_id, f"see you at the game number {minutes}", tenant=tenant,
                       author="ann", lang="en")  # fmt: skip
    event["occurred_at"] = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    return event


def test_counters_survive_a_worker_sigkill_and_never_count_a_replayed_event_twice(
    own_broker: EmbeddedBroker, model_dir: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "data", own_broker.bootstrap)
    accounts = AccountsDB(settings.accounts_db_url)
    accounts.create_schema()
    tenant = new_tenant()
    with accounts.session() as session:
        row = Tenant(name=tenant)
        session.add(row)
        session.flush()
        session.add(TenantRules(tenant_id=row.id, version=1, source=COUNTING, created_by="tests"))
    accounts.close()
    worker = Worker(settings, model_dir, tmp_path / "worker.log")
    e1, e2, e3 = (_event(f"{tenant}-e{i}", tenant, i) for i in (1, 2, 3))

    def seen() -> dict[str, list[dict[str, Any]]]:
        by_event: dict[str, list[dict[str, Any]]] = {}
        for v in _verdicts(own_broker.bootstrap, tenant):
            by_event.setdefault(v["event_id"], []).append(v)
        return by_event

    try:
        worker.start()
        _publish(own_broker.bootstrap, [e1, e2])
        first = wait_for(lambda: len(found := seen()) == 2 and found, 120, what="two verdicts")
        worker.kill()  # SIGKILL: perhaps before its offsets were committed
        worker.start()
        _publish(own_broker.bootstrap, [e2, e3])  # e2 replayed by its producer, then e3
        after = wait_for(lambda: e3["event_id"] in (found := seen()) and found, 180,
                         what="the verdict of e3 from the restarted worker")  # fmt: skip
    finally:
        worker.stop()
    counts = {e: sorted({v["rules"]["counters"]["posts"] for v in vs}) for e, vs in after.items()}
    assert counts == {e1["event_id"]: [1], e2["event_id"]: [2], e3["event_id"]: [3]}
    [third] = after[e3["event_id"]]
    assert third["decision"] == "reject"
    assert [r["rule"] for r in third["rules"]["fired"]] == ["flood"]
    assert third["rules"]["labels"] == ["flood"]
    assert all(v["decision"] == "approve" for v in first[e1["event_id"]] + first[e2["event_id"]])


def test_rules_saved_through_the_api_apply_live_and_shadow_rules_reach_the_warehouse(
    api: TestClient, worker: Worker
) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)

    def judge(text: str) -> dict[str, Any]:
        event_id = f"rl-{uuid.uuid4().hex[:10]}"
        event = post_event(event_id, text, tenant=tenant, lang="en")
        assert api.post("/v1/events", json=event, headers=headers).status_code == 202
        found = wait_for(
            lambda: (r := api.get(f"/v1/verdicts/{event_id}", headers=headers)).is_success and r,
            180,  # the first waits for the session's worker to start
            what=f"the verdict of {event_id}",
        )
        return found.json()  # type: ignore[no-any-return]

    before = judge("Thanks, see you at the meeting tomorrow")
    assert before["decision"] == "approve"
    source = (
        'rule everything_reviewed: when toxic >= 0 then review, queue "mods"\n'
        "shadow rule strict: when toxic >= 0 then reject, block_author\n"
    )
    saved = api.put("/v1/tenant/rules", json={"source": source}, headers=headers)
    assert saved.status_code == 200, saved.text
    deadline = time.monotonic() + 30
    while (after := judge("Thanks, see you at the game on Sunday"))["decision"] != "review":
        assert time.monotonic() < deadline, "the worker never applied the new rules"
        time.sleep(0.5)
    rules = after["rules"]
    assert (rules["ruleset_version"], rules["policy_decision"]) == (1, "approve")
    assert [r["rule"] for r in rules["fired"]] == ["everything_reviewed"]
    assert rules["fired"][0]["actions"][1] == {"kind": "queue", "value": "mods"}
    assert [r["rule"] for r in rules["shadow"]] == ["strict"]

    def compared() -> Any:
        found = api.get("/v1/tenant/rules/shadow", headers=headers).json()["rules"]
        return found if found and found[0]["fired"] >= 1 else None

    [strict] = wait_for(compared, 60, what="the shadow rule in the warehouse")
    assert strict["rule"] == "strict"
    assert strict["outcomes"] == {"review>reject": strict["fired"]}
    assert strict["would_change"] == strict["fired"]
    assert after["event_id"] in strict["examples"] or len(strict["examples"]) == 5


def test_a_backtest_reports_what_a_rule_set_would_have_changed(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    now = datetime.now(UTC)
    rows = [
        verdict_row(tenant, f"b{i}", toxic=toxic, author=author,
                    scores={"insult": toxic, "threat": 0.3}, decision="approve")
        | {"occurred_at": now - timedelta(minutes=30 - i), "judged_at": now}
        for i, (toxic, author) in enumerate(
            [(0.1, "ann"), (0.7, "ann"), (0.9, "bob"), (0.05, "bob"), (0.2, "bob"), (0.1, "bob")]
        )
    ]  # fmt: skip
    old = verdict_row(tenant, "old", toxic=0.95, scores={"insult": 0.95})
    store(warehouse, [*rows, old | {"occurred_at": now - timedelta(days=40)}])
    source = """
counter posts = count by author within 1h
rule insults: when scores.insult > 0.5 then reject, queue "priority"
rule busy: when posts >= 4 then review, label "busy"
shadow rule watch: when toxic < 0.15 then reject
"""
    response = api.post("/v1/tenant/rules/backtest", json={"source": source, "days": 7},
                        headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdicts"] == 6  # the 40-day-old verdict is outside the period
    # b1 (0.7) and b2 (0.9) are insults; bob's 4th item (b5) is busy; b0, b3, b5 are watched.
    assert {r["rule"]: r["fired"] for r in report["rules"]} == {
        "insults": 2, "busy": 1, "watch": 3,
    }  # fmt: skip
    assert report["decisions"] == {"approve>approve": 3, "approve>reject": 2, "approve>review": 1}
    assert report["changed"] == 3
    assert report["by_action"] == {
        "decision:reject": 2, "queue:priority": 2, "decision:review": 1, "label:busy": 1,
    }  # fmt: skip
    assert report["rules"][0]["by_label"] == {"insult": 2}
    examples = {(e["rule"], e["event_id"], e["new_decision"]) for e in report["examples"]}
    assert ("insults", "b2", "reject") in examples
    assert ("busy", "b5", "review") in examples

    added = api.post(
        "/v1/tenant/rules/backtest",
        json={"source": "rule lenient: when toxic < 0.3 then approve", "mode": "add"},
        headers=headers,
    ).json()
    assert added["changed"] == 0  # adding an approval never lowers a published decision

    text = api.post("/v1/tenant/rules/backtest",
                    json={"source": "rule t:\n  when text contains \"x\" then reject"},
                    headers=headers)  # fmt: skip
    assert text.status_code == 422
    assert text.json()["error"]["details"] == [{
        "line": 2, "column": 8,
        "reason": "text is not stored with verdicts: rules that read it cannot be backtested",
    }]  # fmt: skip


def test_a_backtest_can_cover_a_period_that_ended_in_the_past(warehouse: Warehouse) -> None:
    """`until` ends the period (history loaded earlier); its end is inside, its start not."""
    from infra.rules.backtest import backtest

    tenant = new_tenant()
    end = datetime.now(UTC) - timedelta(days=30)
    ages = {"before": 8.0, "first": 6.9, "last": 0.0, "after": -0.001}  # days before `end`
    store(warehouse, [
        verdict_row(tenant, name, toxic=0.9, scores={"insult": 0.9}, decision="approve")
        | {"occurred_at": end - timedelta(days=age)}
        for name, age in ages.items()
    ])  # fmt: skip
    report = backtest(
        warehouse, tenant, "rule insults: when scores.insult > 0.5 then reject", days=7, until=end
    )
    assert report.verdicts == 2
    assert {e.event_id for e in report.examples} == {"first", "last"}
    assert report.decisions == {"approve>reject": 2}
