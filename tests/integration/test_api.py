"""The API's contract where it reads the warehouse or asks the broker: 404s in the common error
shape, the tenant decided by the credential, health."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.events import post_event


def error_code(response: object) -> str:
    return response.json()["error"]["code"]  # type: ignore[attr-defined,no-any-return]


def test_unknown_verdict_is_a_404_in_the_common_error_shape(api: TestClient) -> None:
    response = api.get("/v1/verdicts/never-sent")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_the_old_tenant_header_decides_nothing(api: TestClient) -> None:
    """The credential decides the tenant: an X-Tenant header neither helps nor hurts."""
    response = api.post(
        "/v1/events",
        json=post_event("api-hdr", "hi", tenant="other"),
        headers={"X-Tenant": "other"},
    )
    assert response.status_code == 403
    assert error_code(response) == "tenant_mismatch"
    assert api.get("/v1/verdicts/x", headers={"X-Tenant": "bad tenant!"}).status_code == 404


def test_health_reports_each_dependency(api: TestClient) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["broker"]["ok"]
    assert body["warehouse"]["ok"]
    assert body["sink"]["ok"]
