"""API token scopes enforced on routes that read the warehouse and publish events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import bearer, create_token, new_admin
from tests.support.events import post_event


@pytest.fixture(scope="module")
def admin(api: TestClient) -> tuple[str, dict[str, str]]:
    return new_admin(api)


def test_scopes_are_enforced(api: TestClient, admin: tuple[str, dict[str, str]]) -> None:
    tenant = admin[0]
    reader = bearer(create_token(api, admin[1], ["read"])["token"])
    assert api.get("/v1/posts", headers=reader).status_code == 200
    refused = api.post("/v1/events", json=post_event("tok-1", "hi", tenant=tenant), headers=reader)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    ingester = bearer(create_token(api, admin[1], ["ingest"])["token"])
    ok = api.post("/v1/events", json=post_event("tok-2", "hi", tenant=tenant), headers=ingester)
    assert ok.status_code == 202
    assert api.get("/v1/posts", headers=ingester).status_code == 403
    assert api.get("/v1/audit", headers=reader).status_code == 403
    assert api.put("/v1/tenant/privacy", json={"privacy_mode": True},
                   headers=reader).status_code == 403  # fmt: skip
