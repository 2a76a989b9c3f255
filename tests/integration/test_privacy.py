"""Privacy mode end to end with the real worker: a privacy tenant's text never reaches the
warehouse (events, dead letters) or the logs (the worker's, and this process's: API and sink),
whether it came over HTTP or straight from a Kafka producer; its verdicts are kept."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.topics import EVENTS_TEXT
from tests.support.accounts import make_token
from tests.support.events import as_json, post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker


def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    async def run() -> None:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
            for key, value in records:
                await producer.send_and_wait(EVENTS_TEXT.name, value, key=key)

    asyncio.run(run())


def rows(warehouse: Warehouse, sql: str, **params: str) -> list[dict[str, object]]:
    return warehouse.rows(sql, params)


def test_a_privacy_tenants_text_is_never_stored_or_logged(
    api: TestClient,
    worker: Worker,
    warehouse: Warehouse,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # our loggers at their most verbose, as configured by
    for noisy in ("aiokafka", "faust", "mode"):  # infra/logging.py: these stay at WARNING
        caplog.set_level(logging.WARNING, logger=noisy)  # (aiokafka's DEBUG dumps records)
    private, public = new_tenant(), new_tenant()
    _, secret = make_token(api, private, privacy=True)
    _, public_secret = make_token(api, public)
    run = uuid.uuid4().hex[:8]
    marker = f"PRIVATE-{run}"
    texts = {
        f"{run}-http": f"{marker} you are a pathetic idiot",
        f"{run}-kafka": f"{marker} a calm note sent straight to Kafka",
    }
    http = post_event(f"{run}-http", texts[f"{run}-http"], tenant=private)
    http["payload"]["context"] = [f"{marker} the post this one answers"]  # thread context
    response = api.post("/v1/events", json=http, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 202
    direct = post_event(f"{run}-kafka", texts[f"{run}-kafka"], tenant=private)
    broken = {"event_id": f"{run}-bad", "tenant": private, "kind": "post",
              "payload": {"text": f"{marker} in a malformed event"}}  # fmt: skip
    produce(
        settings.kafka_bootstrap or "",
        [
            (f"{private}:a".encode(), as_json(direct)),  # a producer that skips the API
            (f"{private}:a".encode(), json.dumps(broken).encode()),  # a dead letter
            (f"{private}:a".encode(), f"{{not json {marker}".encode()),  # unparseable
        ],
    )
    kept = post_event(f"{run}-public", f"PUBLIC-{run} hello there", tenant=public)
    public_headers = {"Authorization": f"Bearer {public_secret}"}
    assert api.post("/v1/events", json=kept, headers=public_headers).status_code == 202

    def stored() -> bool:
        n = rows(warehouse, "SELECT count() AS n FROM verdicts FINAL WHERE startsWith(event_id, "
                 "{p:String})", p=run)[0]["n"]  # fmt: skip
        dead = rows(warehouse, "SELECT count() AS n FROM dead_letters FINAL WHERE tenant = "
                    "{t:String}", t=private)[0]["n"]  # fmt: skip
        return n == 3 and dead == 2

    wait_for(stored, timeout=90, what="three verdicts and two dead letters")

    events = {
        r["event_id"]: r
        for r in rows(
            warehouse,
            "SELECT event_id, text, payload, content_sha256 FROM events "
            "FINAL WHERE startsWith(event_id, {p:String})",
            p=run,
        )
    }
    for event_id, text in texts.items():
        row = events[event_id]
        assert row["text"] == ""
        assert row["content_sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert marker not in str(row["payload"])
        assert json.loads(str(row["payload"]))["author"] == "user-1"
    assert events[f"{run}-public"]["text"] == f"PUBLIC-{run} hello there"  # others keep theirs

    verdicts = rows(warehouse, "SELECT event_id, decision, toxic FROM verdicts FINAL WHERE "
                    "tenant = {t:String}", t=private)  # fmt: skip
    assert {v["event_id"] for v in verdicts} == set(texts)  # the verdicts are kept in full

    dead = rows(warehouse, "SELECT reason, detail, raw FROM dead_letters FINAL WHERE "
                "tenant = {t:String}", t=private)  # fmt: skip
    assert {d["reason"] for d in dead} == {"schema_violation", "invalid_json"}
    for d in dead:
        assert str(d["raw"]).startswith("sha256:")
        assert marker not in str(d["detail"]) + str(d["raw"])

    everything = rows(warehouse, "SELECT count() AS n FROM events WHERE position(text, "
                      "{m:String}) > 0 OR position(payload, {m:String}) > 0", m=marker)  # fmt: skip
    assert everything[0]["n"] == 0
    leaked = rows(warehouse, "SELECT count() AS n FROM dead_letters WHERE position(raw, "
                  "{m:String}) > 0 OR position(detail, {m:String}) > 0", m=marker)  # fmt: skip
    assert leaked[0]["n"] == 0

    detail = api.get(f"/v1/verdicts/{run}-http", headers={"Authorization": f"Bearer {secret}"})
    assert detail.status_code == 200
    assert detail.json()["text"] == ""

    assert marker not in caplog.text  # API and sink, in this process
    assert marker not in worker.log.read_text(errors="replace")  # the worker's own log
