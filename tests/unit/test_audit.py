"""The audit log: logins (and failed ones), token and invite changes, privacy-mode changes and
moderation actions, each with who, what, the outcome and the request id; per tenant."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import PASSWORD, anonymous, as_tenant, login, make_user
from tests.support.read_rows import new_tenant


def entries(api: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_who_did_what_with_request_ids(api: TestClient) -> None:
    tenant = new_tenant()
    email = make_user(api, tenant, "admin")
    bad = api.post("/v1/auth/login", json={"email": email, "password": "wrong password!"},
                   headers=anonymous() | {"X-Request-ID": "req-bad-login"})  # fmt: skip
    assert bad.status_code == 401
    assert bad.headers["X-Request-ID"] == "req-bad-login"
    admin = login(api, email)
    made = api.post("/v1/tokens", json={"name": "bot", "scopes": ["read"]},
                    headers=admin | {"X-Request-ID": "req-token"}).json()  # fmt: skip
    api.delete(f"/v1/tokens/{made['id']}", headers=admin | {"X-Request-ID": "req-revoke"})
    api.post("/v1/invites", json={"role": "member"}, headers=admin)
    api.put("/v1/tenant/privacy", json={"privacy_mode": True},
            headers=admin | {"X-Request-ID": "req-privacy"})  # fmt: skip
    bank = api.post(
        "/v1/media/banks/known-bad/entries",
        json={"label": "x", "source": "t", "decision": "reject",
              "entries": [{"hash_type": "sha256", "value": "ab" * 32}]},
        headers=admin,
    )  # fmt: skip
    assert bank.status_code == 202, bank.text

    log = entries(api, admin)
    by_action = {(e["action"], e["outcome"]): e for e in log}
    failed = by_action[("login", "refused")]
    assert (failed["actor"], failed["request_id"]) == (f"user:{email}", "req-bad-login")
    assert failed["detail"] == "wrong password"
    assert by_action[("login", "ok")]["actor"] == f"user:{email}"
    created = by_action[("token.create", "ok")]
    assert (created["target"], created["request_id"]) == (f"token:{made['id']}", "req-token")
    assert made["token"] not in str(log)  # the secret is never logged
    assert by_action[("token.revoke", "ok")]["request_id"] == "req-revoke"
    assert ("invite.create", "ok") in by_action
    privacy = by_action[("tenant.privacy", "ok")]
    assert privacy["request_id"] == "req-privacy"
    assert '"after": true' in privacy["detail"]
    assert by_action[("bank.import", "ok")]["target"] == "bank:known-bad"
    assert log == sorted(log, key=lambda e: -e["id"])  # newest first
    assert [e["action"] for e in entries(api, admin, action="token.create")] == ["token.create"]
    assert all(e["request_id"] for e in log)  # every HTTP action has one (a fresh one if none)


def test_the_log_is_per_tenant_and_for_admins_only(api: TestClient) -> None:
    tenant = new_tenant()
    email = make_user(api, tenant, "admin")
    login(api, email)
    member = login(api, make_user(api, tenant, "member"))
    assert api.get("/v1/audit", headers=member).status_code == 403
    stranger = as_tenant(api, new_tenant())
    assert not [e for e in entries(api, stranger) if email in e["actor"]]
    assert [e for e in entries(api, login(api, email, PASSWORD)) if email in e["actor"]]
