"""API token scopes enforced on routes that read the warehouse and publish events."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import login, make_user
from tests.support.events import post_event
from tests.support.read_rows import new_tenant


@pytest.fixture(scope="module")
def admin(api: TestClient) -> tuple[str, dict[str, str]]:
    tenant = new_tenant()
    return tenant, login(api, make_user(api, tenant, "admin"))


def create(
    api: TestClient, headers: dict[str, str], scopes: list[str], name: str = "app"
) -> dict[str, Any]:
    response = api.post("/v1/tokens", json={"name": name, "scopes": scopes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_scopes_are_enforced(api: TestClient, admin: tuple[str, dict[str, str]]) -> None:
    tenant = admin[0]
    reader = bearer(create(api, admin[1], ["read"])["token"])
    assert api.get("/v1/posts", headers=reader).status_code == 200
    refused = api.post("/v1/events", json=post_event("tok-1", "hi", tenant=tenant), headers=reader)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    ingester = bearer(create(api, admin[1], ["ingest"])["token"])
    ok = api.post("/v1/events", json=post_event("tok-2", "hi", tenant=tenant), headers=ingester)
    assert ok.status_code == 202
    assert api.get("/v1/posts", headers=ingester).status_code == 403
    assert api.get("/v1/audit", headers=reader).status_code == 403
    assert api.put("/v1/tenant/privacy", json={"privacy_mode": True},
                   headers=reader).status_code == 403  # fmt: skip
