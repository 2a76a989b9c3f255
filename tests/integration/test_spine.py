"""The spine end to end on the real embedded broker and warehouse: HTTP → events.text → worker →
verdicts.text → sink → ClickHouse → API. Also bad input, duplicates, and a SIGKILLed worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.topics import EVENTS_TEXT
from tests.support.accounts import as_tenant
from tests.support.events import as_json, post_event
from tests.support.polling import wait_for
from tests.support.stack import Worker
from tests.support.verdicts import read_verdicts


def produce_raw(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    async def run() -> None:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
            for key, value in records:
                await producer.send_and_wait(EVENTS_TEXT.name, value, key=key)

    asyncio.run(run())


def count(warehouse: Warehouse, sql: str, **params: Any) -> int:
    return int(warehouse.rows(sql, params)[0]["n"])


def test_events_posted_over_http_become_verdicts_everywhere(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    toxic = post_event(f"{run}-toxic", "You are a pathetic idiot, shut up you stupid loser")
    kind = post_event(f"{run}-kind", "Thank you for the thoughtful reply and the sources")
    arabic = post_event(f"{run}-ar", "صباح الخير يا أصدقاء، يوم جميل", author="user-2")

    response = api.post("/v1/events", json=[toxic, kind, arabic])
    assert response.status_code == 202, response.text
    ids = {toxic["event_id"], kind["event_id"], arabic["event_id"]}
    assert set(response.json()["event_ids"]) == ids

    on_topic = read_verdicts(settings.kafka_bootstrap or "", ids)
    assert all(len(v) == 1 for v in on_topic.values())
    t, k, a = (on_topic[e["event_id"]][0] for e in (toxic, kind, arabic))
    assert t["toxic"] > k["toxic"]
    assert t["decision"] in {"review", "reject"}
    assert k["decision"] == "approve"
    assert a["lang"] == "ar"
    assert t["model_version"]
    assert t["policy_version"]

    wait_for(
        lambda: (
            count(
                warehouse,
                "SELECT count() AS n FROM verdicts FINAL WHERE startsWith(event_id, {p:String})",
                p=run,
            )
            == 3
        ),
        what="three verdicts in the warehouse",
    )
    assert (
        count(
            warehouse,
            "SELECT count() AS n FROM events FINAL WHERE startsWith(event_id, {p:String})",
            p=run,
        )
        == 3
    )
    body = api.get(f"/v1/verdicts/{toxic['event_id']}").json()
    assert body["decision"] == t["decision"]
    assert body["toxic"] == pytest.approx(t["toxic"], abs=1e-6)
    assert body["item_id"] == toxic["payload"]["external_id"]
    # Another tenant cannot see it.
    assert (
        api.get(f"/v1/verdicts/{toxic['event_id']}", headers=as_tenant(api, "other")).status_code
        == 404
    )


def test_malformed_events_are_dead_lettered_and_the_worker_carries_on(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    oversized = post_event(f"{run}-big", "word " * 20_000)
    wrong_shape = {"event_id": f"{run}-shape", "tenant": "demo", "kind": "post", "payload": {}}
    after = post_event(f"{run}-after", "A perfectly normal comment about the weather")
    started = int((datetime.now(UTC) - timedelta(seconds=1)).timestamp() * 1000)
    produce_raw(
        settings.kafka_bootstrap or "",
        [
            (b"demo:x", b"{this is not json " + run.encode()),
            (b"demo:x", json.dumps(wrong_shape).encode()),
            (b"demo:x", as_json(oversized)),
            (b"demo:x", b""),
            (b"demo:x", as_json(after)),
        ],
    )
    read_verdicts(settings.kafka_bootstrap or "", {after["event_id"]})  # the worker carried on

    def reasons() -> list[tuple[str | None, str]]:
        rows = warehouse.rows(
            "SELECT event_id, reason FROM dead_letters FINAL "
            "WHERE event_id LIKE {p:String} OR position(raw, {run:String}) > 0 "
            "OR (raw_size = 0 AND toUnixTimestamp64Milli(failed_at) >= {t:Int64}) ORDER BY offset",
            {"p": f"{run}-%", "run": run, "t": started},  # other tests send empty values too
        )
        return [(r["event_id"], r["reason"]) for r in rows]

    found = wait_for(lambda: len(reasons()) >= 4 and reasons(), what="four dead letters")
    assert found == [
        (None, "invalid_json"),
        (f"{run}-shape", "schema_violation"),
        (f"{run}-big", "oversized"),
        (None, "invalid_json"),  # the empty value
    ]
    detail = warehouse.rows(
        "SELECT detail FROM dead_letters FINAL WHERE event_id = {e:String}",
        {"e": f"{run}-shape"},
    )[0]["detail"]
    assert "occurred_at" in detail
    assert "source" in detail


def test_an_item_is_judged_once_and_identical_text_reuses_scores(
    api: TestClient, worker: Worker, settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    first = post_event(f"{run}-1", "You absolute idiot", external_id=f"{run}-item")
    retry = post_event(f"{run}-2", "You absolute idiot", external_id=f"{run}-item")
    same_words = post_event(f"{run}-3", "YOU   absolute IDIOT", external_id=f"{run}-other")
    marker = post_event(f"{run}-4", "Lovely day for a walk", external_id=f"{run}-marker")
    bootstrap = settings.kafka_bootstrap or ""
    for event in (first, retry):
        assert api.post("/v1/events", json=event).status_code == 202
    read_verdicts(bootstrap, {first["event_id"]})  # scored before its twin arrives
    for event in (same_words, marker):  # one by one: same author, same partition
        assert api.post("/v1/events", json=event).status_code == 202

    ids = {e["event_id"] for e in (first, retry, same_words, marker)}
    verdicts = read_verdicts(bootstrap, ids - {retry["event_id"]}, timeout=60)
    assert retry["event_id"] not in verdicts  # same (tenant, source, external id): not re-judged
    reused = verdicts[same_words["event_id"]][0]
    original = verdicts[first["event_id"]][0]
    assert reused["duplicate_of"] == first["event_id"]
    assert reused["toxic"] == original["toxic"]
    for start, end in reused["spans"]:  # spans point into this text, not the original
        assert same_words["payload"]["text"][start:end].strip()


def test_a_sigkilled_worker_loses_no_verdict_and_double_counts_none(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    total = 3_000
    produce_raw(
        settings.kafka_bootstrap or "",
        [
            (
                f"demo:user-{n % 50}".encode(),
                as_json(post_event(f"{run}-{n}", f"message number {n} from the load test")),
            )
            for n in range(total)
        ],
    )

    def stored() -> int:
        return count(
            warehouse,
            "SELECT uniqExact(event_id) AS n FROM verdicts WHERE startsWith(event_id, {p:String})",
            p=f"{run}-",
        )

    wait_for(lambda: stored() >= 100, what="the worker to get going")
    worker.kill()
    assert stored() < total, "the worker finished before it could be killed; raise total"
    worker.start()
    wait_for(lambda: stored() == total, timeout=120, what=f"all {total} verdicts")
    assert (
        count(
            warehouse,
            "SELECT count() AS n FROM verdicts FINAL WHERE startsWith(event_id, {p:String})",
            p=f"{run}-",
        )
        == total
    )


def _pipeline_process(worker: Worker) -> int | None:
    """The worker's child that judges text (not multiprocessing's resource tracker)."""
    assert worker.proc is not None
    found = subprocess.run(
        ["pgrep", "-P", str(worker.proc.pid), "-f", "spawn_main"], capture_output=True, text=True
    ).stdout.split()
    return int(found[0]) if found else None


def test_a_dead_pipeline_process_is_restarted_and_loses_nothing(
    worker: Worker, settings: Settings
) -> None:
    """If the child that judges text dies, the worker starts another and judges the batch
    again: nothing stalls, nothing is lost or judged twice, the worker keeps running."""
    assert worker.proc is not None
    wait_for(lambda: "text pipeline in a child process" in worker.log.read_text(),
             what="the pipeline process to load")  # fmt: skip
    wait_for(lambda: _pipeline_process(worker) is not None, what="a judging process")
    dead = _pipeline_process(worker)
    assert dead  # never 0: kill(0) would signal this whole process group
    os.kill(dead, signal.SIGKILL)
    event_id = f"{uuid.uuid4().hex[:8]}-orphan"
    produce_raw(
        settings.kafka_bootstrap or "",
        [(b"demo:user-1", as_json(post_event(event_id, "judged by the next child")))],
    )
    assert len(read_verdicts(settings.kafka_bootstrap or "", {event_id}, 150)[event_id]) == 1
    assert worker.proc.poll() is None
    assert _pipeline_process(worker) not in (None, dead)
