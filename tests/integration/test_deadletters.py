"""Dead letters an operator can act on, end to end with the real worker, broker and warehouse:
bad input becomes dead letters that each tenant lists and reads (only its own; none without a
tenant, which only the operator's command line sees), privacy mode shows only digests, and a
dead letter whose cause was fixed replays into exactly one verdict, once (again only if forced,
and still one verdict in the warehouse). What cannot be replayed is refused with the reason."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import deadletters_backends, deadletters_cli
from api.read.deadletters import Scope
from infra.kafka import end_offsets
from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.records import DeadLetter, DeadLetterReason
from schemas.topics import DEAD_LETTERS, EVENTS_TEXT
from tests.support.accounts import as_tenant, make_token, state_of
from tests.support.events import as_json, post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker
from tests.support.verdicts import read_verdicts


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> list[str]:
    """Publish records as a producer that skips the API would; the position of each."""

    async def run() -> list[str]:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
            ids = []
            for key, value in records:
                meta = await producer.send_and_wait(topic, value, key=key)
                ids.append(f"{topic}:{meta.partition}:{meta.offset}")
            return ids

    return asyncio.run(run())


def dead_letter(
    tenant: str,
    raw: bytes,
    *,
    reason: DeadLetterReason = DeadLetterReason.PROCESSING_ERROR,
    keep: int | None = None,
    event_id: str | None = None,
) -> DeadLetter:
    """A dead letter as a worker writes it for a record of `events.text` that failed judging (a
    position no real record has). `keep` cuts the raw as the worker cuts long records."""
    kept = raw[:keep] if keep is not None else raw
    return DeadLetter(
        topic=EVENTS_TEXT.name, partition=random.randrange(EVENTS_TEXT.partitions),
        offset=10**12 + random.randrange(10**9), reason=reason,
        detail="RuntimeError: the model choked", raw=kept.decode("utf-8", "replace"),
        raw_size=len(raw), tenant=tenant, event_id=event_id, failed_at=datetime.now(UTC),
    )  # fmt: skip


def publish_dead_letters(bootstrap: str, letters: list[DeadLetter]) -> list[str]:
    """Straight onto the dead-letter topic, as the worker does; their ids."""
    produce(
        bootstrap,
        DEAD_LETTERS.name,
        [(d.topic.encode(), d.model_dump_json().encode()) for d in letters],
    )
    return [f"{d.topic}:{d.partition}:{d.offset}" for d in letters]


def listed(api: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/deadletters", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def listing(api: TestClient, headers: dict[str, str], n: int, **params: Any) -> Any:
    """Wait until the listing holds `n` dead letters (the sink stores them within a second)."""
    return wait_for(
        lambda: (found := listed(api, headers, **params)) and len(found) >= n and found,
        timeout=90,
        what=f"{n} dead letter(s)",
    )


def events_on_topic(bootstrap: str, event_id: str) -> int:
    """How many records of `events.text` carry this event id."""

    async def run() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=100)
        await consumer.start()
        try:
            parts = [TopicPartition(EVENTS_TEXT.name, p) for p in range(EVENTS_TEXT.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await end_offsets(bootstrap, parts)
            found = 0
            left = {p for p in parts if ends[p] > 0}
            while left:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    found += sum(event_id.encode() in (r.value or b"") for r in records)
                left = {p for p in left if await consumer.position(p) < ends[p]}
            return found
        finally:
            await consumer.stop()

    return asyncio.run(run())


WORKER_GROUP = "modstream-worker"


def worker_passed(bootstrap: str, position: str) -> bool:
    """Whether the stream worker's group committed past `topic:partition:offset`."""
    topic, partition, offset = position.rsplit(":", 2)
    where = TopicPartition(topic, int(partition))

    async def run() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(WORKER_GROUP, partitions=[where])
        finally:
            await admin.close()
        meta = offsets.get(where)
        return meta is not None and meta.offset > int(offset)

    return asyncio.run(run())


def verdicts_stored(warehouse: Warehouse, tenant: str, event_id: str) -> int:
    rows = warehouse.rows(
        "SELECT count() AS n FROM verdicts FINAL WHERE tenant = {t:String} AND "
        "event_id = {e:String}",
        {"t": tenant, "e": event_id},
    )
    return int(rows[0]["n"])


@pytest.fixture(scope="module")
def bad_input(api: TestClient, worker: Worker, settings: Settings) -> dict[str, Any]:
    """Bad records straight onto `events.text`: a malformed event of tenant A and one of tenant
    B, an image event of A on the text topic, and bytes that are not JSON, with no key."""
    a, b = new_tenant(), new_tenant()
    run = uuid.uuid4().hex[:8]
    broken_a = {"event_id": f"{run}-a", "tenant": a, "kind": "post",
                "payload": {"text": "no author, no source, no time"}}  # fmt: skip
    broken_b = broken_a | {"event_id": f"{run}-b", "tenant": b}
    image = {
        "event_id": f"{run}-img", "tenant": a, "source": "media", "kind": "media",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"external_id": "img-1", "owner": "user-1", "media_type": "image",
                    "url": "https://cdn.example/1.png"},
    }  # fmt: skip
    raws = {
        "a": json.dumps(broken_a).encode(),
        "b": json.dumps(broken_b).encode(),
        "image": json.dumps(image).encode(),
        "junk": f"{{not json {run}".encode(),
    }
    ids = produce(
        settings.kafka_bootstrap or "",
        EVENTS_TEXT.name,
        [(f"{a}:user-1".encode(), raws["a"]), (f"{b}:user-1".encode(), raws["b"]),
         (f"{a}:user-1".encode(), raws["image"]), (None, raws["junk"])],
    )  # fmt: skip
    return {
        "a": a, "b": b, "run": run, "raws": raws, "ids": dict(zip(raws, ids, strict=True)),
        "a_headers": as_tenant(api, a), "b_headers": as_tenant(api, b),
    }  # fmt: skip


def test_each_tenant_lists_only_its_own_dead_letters(
    api: TestClient, bad_input: dict[str, Any]
) -> None:
    s = bad_input
    mine = {d["id"]: d for d in listing(api, s["a_headers"], 2)}
    assert set(mine) == {s["ids"]["a"], s["ids"]["image"]}
    schema = mine[s["ids"]["a"]]
    assert schema["reason"] == "schema_violation"
    assert "Field required" in schema["detail"]
    assert (schema["topic"], schema["tenant"], schema["event_id"]) == (
        "events.text", s["a"], f"{s['run']}-a"
    )  # fmt: skip
    _, partition, offset = schema["id"].split(":")
    assert (schema["partition"], schema["offset"]) == (int(partition), int(offset))
    assert schema["raw"].encode() == s["raws"]["a"]  # the record, byte for byte
    assert (schema["raw_state"], schema["raw_size"]) == ("complete", len(s["raws"]["a"]))
    assert schema["replays"] == []
    assert mine[s["ids"]["image"]]["reason"] == "wrong_topic"

    theirs = listing(api, s["b_headers"], 1)
    assert [d["id"] for d in theirs] == [s["ids"]["b"]]
    assert s["a"] not in json.dumps(theirs)
    for other in (s["ids"]["a"], s["ids"]["junk"]):  # A's, and the one with no tenant
        response = api.get(f"/v1/deadletters/{other}", headers=s["b_headers"])
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get(f"/v1/deadletters/{s['ids']['junk']}", headers=s["a_headers"]).status_code == 404
    one = api.get(f"/v1/deadletters/{s['ids']['a']}", headers=s["a_headers"])
    assert one.status_code == 200
    assert one.json() == schema


def test_filters_and_pages(api: TestClient, bad_input: dict[str, Any]) -> None:
    s, headers = bad_input, bad_input["a_headers"]
    listing(api, headers, 2)
    assert [d["id"] for d in listed(api, headers, reason="wrong_topic")] == [s["ids"]["image"]]
    both = listed(api, headers, reason=["wrong_topic", "schema_violation"])
    assert len(both) == 2
    assert listed(api, headers, topic="events.media") == []
    assert [d["id"] for d in listed(api, headers, event_id=f"{s['run']}-a")] == [s["ids"]["a"]]
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert listed(api, headers, since=later) == []
    assert len(listed(api, headers, until=later)) == 2
    first = api.get("/v1/deadletters", params={"limit": 1}, headers=headers).json()
    assert first["count"] == 1
    assert first["next"]
    second = api.get(
        "/v1/deadletters", params={"limit": 1, "cursor": first["next"]}, headers=headers
    ).json()
    assert second["next"] is None
    paged = [first["data"][0]["id"], second["data"][0]["id"]]
    assert sorted(paged) == sorted(d["id"] for d in both)
    oldest_first = listed(api, headers, order="asc")
    assert [d["id"] for d in oldest_first] == paged[::-1]
    bad = api.get("/v1/deadletters", params={"cursor": "garbage"}, headers=headers)
    assert bad.status_code == 422  # not `<key>~<id>`


def test_what_is_still_bad_is_refused_not_replayed(
    api: TestClient, bad_input: dict[str, Any]
) -> None:
    s, headers = bad_input, bad_input["a_headers"]
    listing(api, headers, 2)

    def refused(ids: list[str], who: dict[str, str] = headers) -> Any:
        response = api.post("/v1/deadletters/replay", json={"ids": ids}, headers=who)
        return response.status_code, response.json()["error"]

    status, error = refused([s["ids"]["a"]])
    assert (status, error["code"]) == (422, "not_replayable")
    assert error["details"][0]["code"] == "still_invalid"
    assert "still not a valid event" in error["message"]
    status, error = refused([s["ids"]["image"]])
    assert error["details"][0]["code"] == "wrong_topic"
    assert "events.media" in error["message"]
    status, error = refused([s["ids"]["a"], s["ids"]["image"]])  # all or nothing
    assert status == 422
    assert [d["code"] for d in error["details"]] == ["still_invalid", "wrong_topic"]
    status, error = refused(["events.text:0:999999999999"])
    assert (status, error["code"]) == (404, "not_found")
    status, error = refused([s["ids"]["b"]])  # another tenant's: not disclosed
    assert (status, error["code"]) == (404, "not_found")
    reader = as_tenant(api, s["a"], ("read",))
    status, error = refused([s["ids"]["a"]], reader)
    assert (status, error["code"]) == (403, "insufficient_scope")
    assert listed(api, headers, reason="schema_violation")[0]["replays"] == []


def test_privacy_mode_shows_digests_and_refuses_replay(
    api: TestClient, worker: Worker, settings: Settings
) -> None:
    private = new_tenant()
    _, secret = make_token(api, private, privacy=True)
    headers = {"Authorization": f"Bearer {secret}"}
    run = uuid.uuid4().hex[:8]
    marker = f"PRIVATE-{run}"
    broken = json.dumps({"event_id": f"priv-{run}", "tenant": private, "kind": "post",
                         "payload": {"text": f"{marker} malformed"}}).encode()  # fmt: skip
    (dead_id,) = produce(
        settings.kafka_bootstrap or "", EVENTS_TEXT.name, [(f"{private}:u".encode(), broken)]
    )
    page = wait_for(
        lambda: (p := api.get("/v1/deadletters", headers=headers).json())["data"] and p,
        timeout=90,
        what="the private dead letter",
    )
    assert page["privacy_mode"] is True
    (item,) = page["data"]
    assert item["id"] == dead_id
    assert item["raw_state"] == "hashed"
    assert item["raw"] == f"sha256:{hashlib.sha256(broken).hexdigest()}"
    assert item["detail"] == "schema_violation"
    assert item["raw_size"] == len(broken)
    assert marker not in json.dumps(page)
    response = api.post("/v1/deadletters/replay", json={"ids": [dead_id]}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["code"] == "raw_hashed"


def test_a_dead_letter_stored_before_privacy_mode_is_shown_as_its_digest(
    api: TestClient, settings: Settings
) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    raw = as_json(post_event(f"{tenant}-e", "stored before the switch", tenant=tenant))
    (dead_id,) = publish_dead_letters(settings.kafka_bootstrap or "", [dead_letter(tenant, raw)])
    assert listing(api, headers, 1)[0]["raw"] == raw.decode()
    assert api.put("/v1/tenant/privacy", json={"privacy_mode": True}, headers=headers).is_success
    try:
        item = api.get(f"/v1/deadletters/{dead_id}", headers=headers).json()
        assert (item["raw_state"], item["raw"]) == (
            "hashed", f"sha256:{hashlib.sha256(raw).hexdigest()}"
        )  # fmt: skip
        assert item["detail"] == "processing_error"
    finally:
        api.put("/v1/tenant/privacy", json={"privacy_mode": False}, headers=headers)


def test_a_fixed_processing_error_replays_into_one_verdict_once(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings
) -> None:
    """A judging bug dead-lettered a valid event (`processing_error`); after the fix, replaying
    it makes one verdict. Replaying again publishes nothing; forcing it publishes the event
    again, and still there is one verdict, on the topic (the worker's ledger) and stored."""
    bootstrap = settings.kafka_bootstrap or ""
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    event = post_event(f"{tenant}-pe", "Thank you for the thoughtful reply", tenant=tenant,
                       author="pe-author")  # fmt: skip
    event_id = event["event_id"]
    raw = as_json(event)
    (dead_id,) = publish_dead_letters(bootstrap, [dead_letter(tenant, raw, event_id=event_id)])
    assert listing(api, headers, 1)[0]["raw_state"] == "complete"
    assert api.get(f"/v1/verdicts/{event_id}", headers=headers).status_code == 404

    dry = api.post("/v1/deadletters/replay", json={"ids": [dead_id], "dry_run": True},
                   headers=headers)  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert dry.json()["replayed"][0]["to"] is None
    assert events_on_topic(bootstrap, event_id) == 0  # a dry run publishes nothing

    response = api.post("/v1/deadletters/replay", json={"ids": [dead_id]}, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    (done,) = report["replayed"]
    assert (done["id"], done["event_id"], done["reason"]) == (dead_id, event_id, "processing_error")
    assert done["key"] == f"{tenant}:pe-author"  # derived from the event, as producers key it
    assert done["to"].startswith("events.text:")
    assert report["already_replayed"] == report["refused"] == []

    on_topic = read_verdicts(bootstrap, {event_id})
    assert len(on_topic[event_id]) == 1
    assert on_topic[event_id][0]["decision"] == "approve"
    wait_for(lambda: verdicts_stored(warehouse, tenant, event_id) == 1, what="the verdict")
    assert api.get(f"/v1/verdicts/{event_id}", headers=headers).json()["tenant"] == tenant

    again = api.post("/v1/deadletters/replay", json={"ids": [dead_id]}, headers=headers).json()
    assert again["replayed"] == []
    (already,) = again["already_replayed"]
    assert already["id"] == dead_id
    assert [r["to"] for r in already["replays"]] == [done["to"]]
    assert events_on_topic(bootstrap, event_id) == 1  # published once, not twice
    assert len(read_verdicts(bootstrap, {event_id})[event_id]) == 1

    item = api.get(f"/v1/deadletters/{dead_id}", headers=headers).json()
    (replayed,) = item["replays"]
    assert (replayed["to"], replayed["forced"]) == (done["to"], False)
    assert replayed["actor"].startswith("token:")
    audit = api.get("/v1/audit", params={"action": "deadletter.replay"}, headers=headers).json()
    assert [(e["target"], json.loads(e["detail"])["to"]) for e in audit] == [
        (f"deadletter:{dead_id}", done["to"])
    ]

    forced = api.post("/v1/deadletters/replay", json={"ids": [dead_id], "force": True},
                      headers=headers).json()  # fmt: skip
    assert len(forced["replayed"]) == 1
    assert forced["replayed"][0]["to"] != done["to"]
    assert events_on_topic(bootstrap, event_id) == 2  # the event is on its topic again…
    wait_for(lambda: worker_passed(bootstrap, forced["replayed"][0]["to"]), what="the worker")
    assert len(read_verdicts(bootstrap, {event_id})[event_id]) == 1  # …and judged once only
    assert verdicts_stored(warehouse, tenant, event_id) == 1
    replays = api.get(f"/v1/deadletters/{dead_id}", headers=headers).json()["replays"]
    assert [r["forced"] for r in replays] == [False, True]


def test_replay_by_filter_takes_what_is_whole_and_not_replayed(
    api: TestClient, worker: Worker, warehouse: Warehouse, settings: Settings
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    whole = post_event(f"{tenant}-whole", "A calm and friendly note", tenant=tenant)
    long = post_event(f"{tenant}-long", "word " * 5000, tenant=tenant)  # > 16 KiB
    long_raw = as_json(long)
    letters = [
        dead_letter(tenant, as_json(whole), event_id=whole["event_id"]),
        dead_letter(tenant, long_raw, keep=16 * 1024, event_id=long["event_id"]),
    ]
    whole_id, long_id = publish_dead_letters(bootstrap, letters)
    listing(api, headers, 2)
    truncated = api.get(f"/v1/deadletters/{long_id}", headers=headers).json()
    assert (truncated["raw_state"], truncated["raw_size"]) == ("truncated", len(long_raw))

    response = api.post("/v1/deadletters/replay", json={"ids": [long_id]}, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["code"] == "raw_truncated"
    assert f"first {16 * 1024} of its {len(long_raw)} bytes" in error["message"]

    body = {"filter": {"reason": ["processing_error"]}, "dry_run": True}
    dry = api.post("/v1/deadletters/replay", json=body, headers=headers).json()
    assert [r["id"] for r in dry["replayed"]] == [whole_id]
    assert dry["incomplete"] == 1  # the truncated one: left out, and said so
    body["dry_run"] = False
    done = api.post("/v1/deadletters/replay", json=body, headers=headers).json()
    assert [r["id"] for r in done["replayed"]] == [whole_id]
    wait_for(lambda: verdicts_stored(warehouse, tenant, whole["event_id"]) == 1, what="verdict")
    again = api.post("/v1/deadletters/replay", json=body, headers=headers).json()
    assert again["replayed"] == []  # replayed ones no longer match
    assert (again["incomplete"], again["more"]) == (1, False)


# --- the command line ---------------------------------------------------------------------


class Borrowed(deadletters_backends.ApiBackend):
    """Through the session's test client, which the command must not close."""

    def close(self) -> None:
        pass


@pytest.fixture
def operator(
    api: TestClient, warehouse: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`modstream deadletters` as the operator, on this process's warehouse (chdb opens once
    per process) and the test broker; or, with `--api`, through this test client."""

    def open_backend(
        api_url: str | None, token_file: Any, tenant: str | None, unowned: bool
    ) -> deadletters_backends.Backend:
        if api_url:
            token = token_file.read_text().strip()
            return Borrowed(api, {"Authorization": f"Bearer {token}"})
        scope = Scope.operator_view(tenant, unowned=unowned)
        accounts = state_of(api).accounts
        return deadletters_backends.DirectBackend(
            warehouse, settings.kafka_bootstrap or "", accounts, scope
        )

    monkeypatch.setattr(deadletters_cli, "open_backend", open_backend)


def cli(*args: str) -> Any:
    return CliRunner().invoke(deadletters_cli.deadletters_app, list(args))


def test_the_operator_sees_dead_letters_with_no_tenant(
    api: TestClient, bad_input: dict[str, Any], operator: None
) -> None:
    s = bad_input
    listing(api, s["a_headers"], 2)
    junk = s["ids"]["junk"]

    def unowned() -> list[dict[str, Any]]:
        result = cli("list", "--unowned", "--json", "--limit", "1000")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["data"]  # type: ignore[no-any-return]

    found = wait_for(lambda: [d for d in unowned() if d["id"] == junk], what="the unowned one")
    assert found[0]["tenant"] is None
    assert found[0]["reason"] == "invalid_json"
    assert found[0]["raw_state"] == "hashed"  # no tenant: treated as private by the sink
    result = cli("list", "--tenant", s["a"], "--json")
    of_a = {d["id"] for d in json.loads(result.stdout)["data"]}
    assert of_a == {s["ids"]["a"], s["ids"]["image"]}
    table = cli("list", "--tenant", s["b"])
    assert table.exit_code == 0, table.output
    assert "1 dead letter(s)" in table.output
    refused = cli("replay", junk)
    assert refused.exit_code == 1
    assert f"{junk}: only a SHA-256 of the record was stored" in refused.output
    assert "(raw_hashed)" in refused.output


def test_the_operator_replays_from_the_command_line(
    api: TestClient,
    worker: Worker,
    warehouse: Warehouse,
    settings: Settings,
    operator: None,
    tmp_path: Any,
) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    event = post_event(f"{tenant}-cli", "Lovely weather for a walk", tenant=tenant)
    (dead_id,) = publish_dead_letters(
        settings.kafka_bootstrap or "", [dead_letter(tenant, as_json(event))]
    )
    listing(api, headers, 1)
    shown = cli("show", dead_id)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["raw"] == as_json(event).decode()

    dry = cli("replay", dead_id, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would replay {dead_id}" in dry.stdout
    first = cli("replay", dead_id)
    assert first.exit_code == 0, first.output
    assert (
        f"replayed {dead_id} (event {event['event_id']}, key {tenant}:user-1) → events.text:"
        in first.stdout
    )
    wait_for(lambda: verdicts_stored(warehouse, tenant, event["event_id"]) == 1, what="verdict")
    second = cli("replay", dead_id)
    assert second.exit_code == 0, second.output
    assert f"already replayed {dead_id}" in second.stdout
    assert "by cli" in second.stdout
    audit = api.get("/v1/audit", params={"action": "deadletter.replay"}, headers=headers).json()
    assert [(e["actor"], e["target"]) for e in audit] == [("cli", f"deadletter:{dead_id}")]

    token_file = tmp_path / "token"
    token_file.write_text(make_token(api, tenant)[1])
    through_api = cli("replay", dead_id, "--api", "http://testserver", "--token-file",
                      str(token_file))  # fmt: skip
    assert through_api.exit_code == 0, through_api.output
    assert "already replayed" in through_api.stdout
    other = cli("list", "--api", "http://testserver", "--token-file", str(token_file), "--json")
    assert [d["id"] for d in json.loads(other.stdout)["data"]] == [dead_id]
    missing = cli("replay", "events.text:0:5", "--api", "http://testserver", "--token-file",
                  str(token_file))  # fmt: skip
    assert missing.exit_code == 1
    assert "not_found" in missing.output
    nothing = cli("replay")
    assert nothing.exit_code != 0
    assert "give ids" in nothing.output
