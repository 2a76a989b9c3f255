"""The API's contract: validation with useful 4xx bodies, one error shape, OpenAPI."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.support.events import post_event
from tests.support.fakes import RecordingPublisher


def error_code(response: object) -> str:
    return response.json()["error"]["code"]  # type: ignore[attr-defined,no-any-return]


def test_one_event_is_accepted(api: TestClient, published: RecordingPublisher) -> None:
    before = len(published.published)
    response = api.post("/v1/events", json=post_event("api-one", "hello there"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "event_ids": ["api-one"]}
    [(topic, key, value)] = published.published[before:]
    assert (topic, key, json.loads(value)["event_id"]) == ("events.text", "demo:user-1", "api-one")


def test_body_that_is_not_json_is_a_400(api: TestClient) -> None:
    response = api.post(
        "/v1/events", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_code(response) == "invalid_json"


def test_empty_and_oversized_batches_are_refused(api: TestClient) -> None:
    assert error_code(api.post("/v1/events", json=[])) == "empty_batch"
    too_many = [post_event(f"api-many-{i}", "hi") for i in range(1001)]
    response = api.post("/v1/events", json=too_many)
    assert response.status_code == 422
    assert error_code(response) == "batch_too_large"


def test_a_batch_with_bad_items_names_each_and_publishes_none(
    api: TestClient, published: RecordingPublisher
) -> None:
    before = len(published.published)
    good = post_event("api-good", "fine")
    no_zone = post_event("api-nozone", "fine") | {"occurred_at": "2026-01-01T10:00:00"}
    no_text = post_event("api-notext", "x")
    del no_text["payload"]["text"]
    response = api.post("/v1/events", json=[good, no_zone, "not an object", no_text])
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "invalid_events"
    assert body["message"] == "3 of 4 events are invalid"
    by_index = {d["index"]: d for d in body["details"]}
    assert set(by_index) == {1, 2, 3}
    assert by_index[1]["event_id"] == "api-nozone"
    assert by_index[1]["errors"][0]["type"] == "timezone_aware"
    assert any("text" in e["loc"] for e in by_index[3]["errors"])
    assert published.published[before:] == []


def test_openapi_documents_every_route_with_examples(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    ingest = schema["paths"]["/v1/events"]["post"]
    examples = ingest["requestBody"]["content"]["application/json"]["examples"]
    assert {"one", "batch"} <= set(examples)
    assert "PostEvent" in schema["components"]["schemas"]  # the body's $refs resolve
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
