"""Dead-letter replays: a request names ids or a filter, and well-formed ids, or it is a 422."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant


def test_a_replay_request_names_ids_or_a_filter(api: TestClient) -> None:
    headers = as_tenant(api, new_tenant())
    too_far = "events.text:0:99999999999999999999"
    body: dict[str, Any]
    for body in ({}, {"ids": ["events.text:0:1"], "filter": {}}, {"ids": []},
                 {"ids": ["not-an-id"]}, {"ids": [too_far]}):  # fmt: skip
        response = api.post("/v1/deadletters/replay", json=body, headers=headers)
        assert response.status_code == 422, body
    assert api.get("/v1/deadletters/nonsense", headers=headers).status_code == 422
