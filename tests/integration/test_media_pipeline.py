"""Media end to end on the embedded stack: a bank imported over HTTP, media served by a local HTTP
server, events → worker (fetch, hash, match) → verdicts.media → sink → ClickHouse → API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.media import HashType
from schemas.topics import EVENTS_MEDIA, VERDICTS_MEDIA
from streams.bench import synthetic
from streams.media.decode import open_image
from streams.media.hashers import BY_TYPE
from tests.support.accounts import as_tenant
from tests.support.media_server import MediaServer
from tests.support.polling import wait_for
from tests.support.stack import Worker
from tests.support.verdicts import read_verdicts

KNOWN_BAD = synthetic.scene(901)
ORIGINAL = synthetic.scene(902)


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        running.add("/orig.png", synthetic.encode(ORIGINAL))
        running.add("/copy.jpg", synthetic.encode(synthetic.resize(ORIGINAL, 0.6), "JPEG"))
        running.add("/other.png", synthetic.encode(synthetic.scene(903)))
        running.add("/retry.png", synthetic.encode(synthetic.scene(905)))
        running.add("/bad-copy.jpg", synthetic.encode(synthetic.overlay(KNOWN_BAD), "JPEG"))
        running.add("/clip.mp4", synthetic.splice([(904, 6.0), (901, 6.0)]), "video/mp4")
        yield running


def media(run: str, name: str, url: str, media_type: str = "image") -> dict[str, Any]:
    return {
        "event_id": f"{run}-{name}",
        "tenant": "demo",
        "source": "media",
        "kind": "media",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"external_id": f"{run}-{name}", "owner": "user-m", "url": url,
                    "media_type": media_type},
    }  # fmt: skip


def verdict(warehouse: Warehouse, event_id: str) -> dict[str, Any] | None:
    rows = warehouse.rows(
        "SELECT * FROM media_verdicts FINAL WHERE tenant = 'demo' AND event_id = {e:String}",
        {"e": event_id},
    )
    return rows[0] if rows else None


def test_a_media_event_delivered_again_is_published_once(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings, server: MediaServer
) -> None:
    """A client's retry (the same event twice in one request, then once more later) yields one
    verdict on the topic, not three: the media agent publishes through the ledger."""
    event = media(uuid.uuid4().hex[:8], "retry", server.url("/retry.png"))
    assert api.post("/v1/events", json=[event, event]).status_code == 202
    wait_for(lambda: verdict(warehouse, event["event_id"]), 90, what="the verdict")
    assert api.post("/v1/events", json=event).status_code == 202
    time.sleep(3)  # the worker's fetch wait and a batch: long enough to publish a second copy
    found = read_verdicts(
        settings.kafka_bootstrap or "", {event["event_id"]}, topic=VERDICTS_MEDIA.name
    )
    assert len(found[event["event_id"]]) == 1


def test_media_events_become_verdicts_in_the_warehouse(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings, server: MediaServer
) -> None:
    run = uuid.uuid4().hex[:8]
    bank = f"bad-{run}"
    pixels = open_image(synthetic.encode(KNOWN_BAD), 10**8)
    entries = [
        {"hash_type": t.value, "value": BY_TYPE[t].hash(b"", pixels).hex()}
        for t in (HashType.PDQ, HashType.PHASH)
    ]
    response = api.post(
        f"/v1/media/banks/{bank}/entries",
        json={"label": "known-bad", "source": "test", "decision": "reject", "entries": entries},
    )
    assert response.status_code == 202, response.text

    def bank_listed() -> bool:
        return any(
            b["bank"] == bank and b["active"] == 2 for b in api.get("/v1/media/banks").json()
        )

    wait_for(bank_listed, what="this bank in the warehouse")  # other tests' banks may be there
    assert bank_listed()
    time.sleep(1.0)  # the worker follows media.banks as the sink does

    first = media(run, "orig", server.url("/orig.png"))
    assert api.post("/v1/events", json=first).status_code == 202
    orig = wait_for(lambda: verdict(warehouse, first["event_id"]), 90, what="the first verdict")
    assert (orig["decision"], orig["reason"]) == ("approve", "default")

    later = [
        media(run, "copy", server.url("/copy.jpg")),
        media(run, "bad", server.url("/bad-copy.jpg")),
        media(run, "clip", server.url("/clip.mp4"), "video"),
        media(run, "ssrf", "http://169.254.169.254/latest/meta-data/"),
    ]
    assert api.post("/v1/events", json=later).status_code == 202
    batch = api.post(
        "/v1/media/batch",
        json={"items": [{"url": server.url("/other.png"), "media_type": "image", "owner": "u"}]},
    )
    assert batch.status_code == 202, batch.text
    asyncio.run(_produce_raw(settings.kafka_bootstrap or "", run))
    ids = [e["event_id"] for e in later] + batch.json()["event_ids"]
    got = wait_for(
        lambda: (
            (found := {i: verdict(warehouse, i) for i in ids}) and all(found.values()) and found
        ),
        90,
        what="every media verdict",
    )
    copy, bad, clip, ssrf, other = (got[i] for i in ids)
    assert (copy["decision"], copy["reason"], copy["duplicate_of"]) == (
        "approve", "seen_match", first["event_id"],
    )  # fmt: skip
    assert (bad["decision"], bad["reason"]) == ("reject", "bank_match")
    assert json.loads(bad["matches"])[0]["label"] == "known-bad"
    assert (clip["decision"], clip["reason"], clip["media_type"]) == (
        "reject",
        "bank_match",
        "video",
    )
    at = json.loads(clip["matches"])[0]["at_s"]
    assert 5.5 <= at <= 7.0  # the known-bad scene starts at 6 s; sampling stopped there
    assert (ssrf["decision"], ssrf["reason"]) == ("review", "refused_address")
    assert other["decision"] == "approve"
    assert len(other["hashes"]) == 3  # sha256, pdq, phash

    detail = api.get(f"/v1/media/{bad['event_id']}").json()
    assert detail["matches"][0]["bank"] == bank
    cluster = api.get(f"/v1/media/{copy['event_id']}/duplicates").json()
    assert cluster["root"] == first["event_id"]
    assert {m["event_id"] for m in cluster["members"]} == {first["event_id"], copy["event_id"]}
    assert api.get(f"/v1/media/{bad['event_id']}", headers=as_tenant(api, "x")).status_code == 404

    dead = wait_for(
        lambda: warehouse.rows(
            "SELECT reason FROM dead_letters FINAL WHERE event_id = {e:String}",
            {"e": f"{run}-malformed"},
        ),
        what="the malformed media event's dead letter",
    )
    assert dead[0]["reason"] == "schema_violation"


async def _produce_raw(bootstrap: str, run: str) -> None:
    bad = {"event_id": f"{run}-malformed", "tenant": "demo", "kind": "media", "payload": {}}
    async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
        await producer.send_and_wait(EVENTS_MEDIA.name, json.dumps(bad).encode(), key=b"demo:x")
