"""Reports and appeals of an image, through the real media worker on the embedded broker: an image
the worker approved is reported by two users (one `media` entry with a count; another tenant
gets 404), removed, appealed by its owner and overturned by another reviewer, with the action
and notice records on their topics, and each decision on the image's verdict (`moderation`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from streams.bench import synthetic
from tests.support.accounts import as_tenant, bearer, make_token
from tests.support.media_server import MediaServer
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker
from tests.support.verdicts import read_topic


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        running.add("/reported.png", synthetic.encode(synthetic.scene(931)), "image/png")
        yield running


def test_an_image_is_reported_removed_appealed_and_overturned(
    api: TestClient,
    worker: Worker,
    settings: Settings,
    server: MediaServer,
    other_tenant: dict[str, str],
) -> None:
    tenant, owner = new_tenant(), f"owner-{uuid.uuid4().hex[:6]}"
    app = as_tenant(api, tenant)  # the upstream app, and reviewer one
    second = bearer(make_token(api, tenant, ("moderate", "read"), name="reviewer two")[1])
    item = {"url": server.url("/reported.png"), "media_type": "image", "owner": owner}
    [event_id] = ok(api.post("/v1/media/batch", json={"items": [item]}, headers=app), 202)[
        "event_ids"
    ]
    judged = wait_for(
        lambda: (r := api.get(f"/v1/media/{event_id}", headers=app)).status_code == 200
        and r.json(),
        90, what="the image's verdict",
    )  # fmt: skip
    assert (judged["decision"], judged["moderation"]) == ("approve", None)

    report = {"event_id": event_id, "category": "sexual", "reporter": "reporter-1"}
    assert api.post("/v1/reports", json=report, headers=other_tenant).status_code == 404
    first = ok(api.post("/v1/reports", json=report, headers=app), 201)
    again = ok(api.post("/v1/reports", json=report, headers=app), 201)
    more = ok(api.post("/v1/reports", json={**report, "reporter": "reporter-2"}, headers=app), 201)
    assert (first["reports"], again["counted"], more["reports"]) == (1, False, 2)
    assert first["review_item"] == again["review_item"] == more["review_item"]
    [entry] = ok(api.get("/v1/review/queues/default/items", headers=app))["data"]
    assert (entry["id"], entry["kind"], entry["origin"], entry["reports"], entry["author"]) == (
        first["review_item"], "media", "report", 2, owner,
    )  # fmt: skip

    ok(api.post(f"/v1/review/items/{entry['id']}/claim", headers=app))
    removal = {"action": "remove", "reason": "sexual"}
    path = f"/v1/review/items/{entry['id']}/decision"
    decided = ok(api.post(path, json=removal, headers=app))
    action = decided["action"]
    assert (action["kind"], action["effect"], decided["notices"]) == ("media", "removed", 3)

    def moderation() -> Any:  # the sink stores the action a moment after it is published
        return api.get(f"/v1/media/{event_id}", headers=app).json()["moderation"]

    wait_for(lambda: moderation() == "removed", 30, what="the removal on the media verdict")

    appeal = {"action_id": action["action_id"], "author": owner, "text": "It is a painting."}
    appealed = ok(api.post("/v1/appeals", json=appeal, headers=app), 201)
    assert appealed["queue"] == "appeals"
    claim = f"/v1/review/items/{appealed['review_item']}/claim"
    assert api.post(claim, headers=app).status_code == 403  # the removal's reviewer
    ok(api.post(claim, headers=second))
    overturn = {"action": "overturn", "reason": "no_violation"}
    path = f"/v1/review/items/{appealed['review_item']}/decision"
    restored = ok(api.post(path, json=overturn, headers=second))["action"]
    assert (restored["kind"], restored["effect"], restored["appeal_of"]) == (
        "media", "visible", action["action_id"],
    )  # fmt: skip
    wait_for(lambda: moderation() == "visible", 30, what="the overturn on the media verdict")

    bootstrap = settings.kafka_bootstrap or ""
    actions = [a for a in read_topic(bootstrap, "moderation.actions") if a["tenant"] == tenant]
    assert [(a["event_id"], a["action"]) for a in actions] == [
        (event_id, "remove"), (event_id, "overturn"),
    ]  # fmt: skip
    notices = [n for n in read_topic(bootstrap, "moderation.notices") if n["tenant"] == tenant]
    assert sorted((n["action"], n["recipient"], n["recipient_id"]) for n in notices) == [
        ("overturn", "author", owner),
        ("overturn", "reporter", "reporter-1"),
        ("overturn", "reporter", "reporter-2"),
        ("remove", "author", owner),
        ("remove", "reporter", "reporter-1"),
        ("remove", "reporter", "reporter-2"),
    ]
