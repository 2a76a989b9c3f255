"""Dead-letter replays: a request names ids or a filter, and well-formed ids, or it is a 422."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant


def test_a_replay_request_names_ids_or_a_filter(api: TestClient) -> None:
    headers = as_tenant(api, new_tenant())
    too_far = "events.text:0:99999999999999999999"
    body: dict[str, Any]
    document = api.get("/openapi.json").json()
    operation = document["paths"]["/v1/deadletters/replay"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    valid = jsonschema_rs.validator_for({"components": document["components"], **schema})
    for body in ({}, {"ids": ["events.text:0:1"], "filter": {}}, {"ids": []},
                 {"ids": ["not-an-id"]}, {"ids": [too_far]}, {"ids": None},
                 {"ids": None, "filter": {}}, {"ids": ["events.text:0:1"], "filter": None},
                 {"filter": {"topic": "events.text"}, "ids": ["events.text:0:1"]}):  # fmt: skip
        if "ids" not in body or body["ids"] in (None, []) or "filter" in body:
            # The schema's `oneOf` refuses what the API refuses (schemathesis sent both).
            assert not valid.is_valid(body), body
        response = api.post("/v1/deadletters/replay", json=body, headers=headers)
        assert response.status_code == 422, body
    assert valid.is_valid({"ids": ["events.text:0:1"]})
    assert valid.is_valid({"filter": {"topic": "events.text"}, "dry_run": True})
    assert api.get("/v1/deadletters/nonsense", headers=headers).status_code == 422
