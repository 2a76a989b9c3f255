"""Usage: request counts per user and per token (total, today, this month), and per-tenant
quotas answered with 429 and `Retry-After`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from infra.accounts.models import Tenant
from tests.support.accounts import login, make_token, make_user, state_of
from tests.support.read_rows import new_tenant


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def set_quota(api: TestClient, tenant: str, **quota: int) -> None:
    with state_of(api).accounts.session() as session:
        row = session.query(Tenant).filter_by(name=tenant).one()
        for name, value in quota.items():
            setattr(row, name, value)


def test_requests_are_counted_per_token_and_per_user(api: TestClient) -> None:
    tenant = new_tenant()
    token_id, secret = make_token(api, tenant, ("read",), name="dashboard")
    email = make_user(api, tenant, "admin")
    user = login(api, email)
    for _ in range(3):
        assert api.get("/v1/tenant", headers=bearer(secret)).status_code == 200
    assert api.get("/v1/me", headers=user).status_code == 200
    body = api.get("/v1/usage", headers=user).json()  # this request counts too
    rows = {r["subject"]: r for r in body["data"]}
    assert rows[f"token:{token_id}"] | {} == {
        "subject": f"token:{token_id}", "name": "dashboard", "total": 3, "today": 3, "month": 3,
    }  # fmt: skip
    mine = next(r for r in body["data"] if r["name"] == email)
    assert (mine["total"], mine["today"], mine["month"]) == (2, 2, 2)
    assert body["tenant"] == {"total": 5, "today": 5, "month": 5}
    own = api.get("/v1/usage", headers=bearer(secret)).json()  # not an admin: itself only
    assert [r["subject"] for r in own["data"]] == [f"token:{token_id}"]
    assert own["data"][0]["total"] == 4


def test_a_request_refused_after_authentication_counts(api: TestClient) -> None:
    tenant = new_tenant()
    _, secret = make_token(api, tenant, ("read",))
    assert api.post("/v1/events", json=[], headers=bearer(secret)).status_code == 403
    body = api.get("/v1/usage", headers=bearer(secret)).json()
    assert body["data"][0]["total"] == 2  # the 403 was authenticated: it counts (a 429 not)


def test_a_tenant_over_its_minute_quota_gets_429_with_retry_after(api: TestClient) -> None:
    tenant = new_tenant()
    _, secret = make_token(api, tenant, ("read",))
    set_quota(api, tenant, quota_per_minute=3)
    if datetime.now(UTC).second >= 55:  # keep the four requests in one minute
        time.sleep(61 - datetime.now(UTC).second)
    codes = [api.get("/v1/tenant", headers=bearer(secret)) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    refused = codes[-1]
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert "3 requests a minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = make_token(api, new_tenant(), ("read",))[1]  # other tenants are not affected
    assert api.get("/v1/tenant", headers=bearer(other)).status_code == 200


def test_a_tenant_over_its_daily_quota_waits_until_midnight_utc(api: TestClient) -> None:
    tenant = new_tenant()
    _, secret = make_token(api, tenant, ("read",))
    set_quota(api, tenant, quota_per_day=2)
    codes = [api.get("/v1/tenant", headers=bearer(secret)) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    now = datetime.now(UTC)
    to_midnight = 86_400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert abs(int(codes[-1].headers["Retry-After"]) - to_midnight) <= 2
