"""X accounts through the API, against the fake X: the PKCE connect flow (state checked: unknown,
replayed, expired, denied), tokens encrypted at rest, disconnect (revoked at X), tenant
isolation, and the preview's refusals. End to end with a worker: tests/integration/test_x_api.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from api.routes.x import x_settings
from infra.accounts.models import XAccount, XAuthState
from infra.settings import Settings
from infra.x import TokenCipher
from tests.support.accounts import anonymous, as_tenant, state_of
from tests.support.fake_x import FakeX
from tests.support.read_rows import new_tenant
from tests.support.x_connect import approve, audit_actions, connect, fake_x, start, x_enabled


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeX]:
    with fake_x() as running:
        yield running


@pytest.fixture(scope="module")
def xs(api: TestClient, fake: FakeX, settings: Settings) -> Iterator[Settings]:
    """The API's settings with X configured, pointing at the fake."""
    with x_enabled(api, settings, fake) as configured:
        yield configured


def test_connecting_needs_an_admin_and_a_configured_server(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    tenant = new_tenant()
    reader = as_tenant(api, tenant, ("read", "ingest"))
    assert api.post("/v1/x/connect", headers=reader).status_code == 403
    assert api.post("/v1/x/connect", headers=anonymous()).status_code == 401
    api.app.dependency_overrides.pop(x_settings)  # type: ignore[attr-defined]
    try:
        refused = api.post("/v1/x/connect", headers=as_tenant(api, tenant))
    finally:
        api.app.dependency_overrides[x_settings] = lambda: xs  # type: ignore[attr-defined]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "x_not_configured"


def test_connect_stores_the_account_with_tokens_encrypted(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    url = start(api, admin)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [xs.x_callback_url]
    account = connect(api, fake, admin, "101")
    assert account["username"] == "alice"
    assert account["x_user_id"] == "101"
    assert account["status"] == "active"
    assert "offline.access" in account["scopes"]
    assert "access_token" not in account
    listed = api.get("/v1/x/accounts", headers=admin).json()
    assert [a["id"] for a in listed["data"]] == [account["id"]]
    with state_of(api).accounts.session() as session:  # the raw row, as a thief would read it
        access, refresh = session.execute(
            text("SELECT access_token, refresh_token FROM x_accounts WHERE id = :id"),
            {"id": account["id"]},
        ).one()
    issued = {t for t, (user, _) in fake.access.items() if user == "101"}
    assert not any(t in access for t in issued)
    assert not any(t in refresh for t in fake.refresh_tokens)
    cipher = TokenCipher.from_settings(xs.x, xs.development_secret)
    assert cipher.decrypt(access) in issued
    assert fake.refresh_tokens[cipher.decrypt(refresh)] == "101"
    assert audit_actions(api, tenant) == [("x.connect", "x:101", "ok")]


def test_the_state_is_checked(api: TestClient, fake: FakeX, xs: Settings) -> None:
    admin = as_tenant(api, new_tenant())

    def callback(params: dict[str, str]) -> Any:
        return api.get("/v1/x/callback", params=params, headers=anonymous())

    unknown = callback({"code": "c", "state": "never-issued"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "invalid_state")
    assert callback({"code": "c"}).status_code == 422

    back = approve(fake, start(api, admin), "202")
    assert callback(back).status_code == 200
    replayed = callback(back)
    assert (replayed.status_code, replayed.json()["error"]["code"]) == (400, "invalid_state")

    back = approve(fake, start(api, admin), "202")
    with state_of(api).accounts.session() as session:
        session.execute(
            update(XAuthState).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = callback(back)
    assert (expired.status_code, expired.json()["error"]["code"]) == (400, "state_expired")
    assert callback(back).json()["error"]["code"] == "invalid_state"  # used up all the same

    back = approve(fake, start(api, admin), "202")
    tampered = callback({"code": back["code"] + "x", "state": back["state"]})
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (400, "x_code_refused")

    fake.deny = True
    try:
        back = approve(fake, start(api, admin), "202")
    finally:
        fake.deny = False
    denied = callback(back)
    assert (denied.status_code, denied.json()["error"]["code"]) == (400, "x_authorization_denied")
    assert callback(back).json()["error"]["code"] == "invalid_state"


def test_the_state_binds_the_callback_to_the_tenant_that_asked(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    a, b = new_tenant(), new_tenant()
    back = approve(fake, start(api, as_tenant(api, a)), "303")
    # Completed in a browser that happens to carry tenant B's credentials: still A's account.
    response = api.get("/v1/x/callback", params=back, headers=as_tenant(api, b))
    assert response.status_code == 200
    account = response.json()["id"]
    assert [x["id"] for x in api.get("/v1/x/accounts", headers=as_tenant(api, a)).json()["data"]]
    assert api.get("/v1/x/accounts", headers=as_tenant(api, b)).json()["count"] == 0
    assert api.delete(f"/v1/x/accounts/{account}", headers=as_tenant(api, b)).status_code == 404
    preview = api.post(f"/v1/x/accounts/{account}/preview", headers=as_tenant(api, b))
    assert preview.status_code == 404
    assert api.get("/v1/x/accounts", headers=as_tenant(api, a)).json()["count"] == 1


def test_connecting_again_replaces_the_tokens_and_keeps_the_checkpoint(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    admin = as_tenant(api, new_tenant())
    first = connect(api, fake, admin, "202")
    with state_of(api).accounts.session() as session:
        session.execute(update(XAccount).where(XAccount.id == first["id"]).values(since_id=42))
    again = connect(api, fake, admin, "202")
    assert again["id"] == first["id"]
    assert again["since_id"] == "42"
    assert api.get("/v1/x/accounts", headers=admin).json()["count"] == 1


def test_disconnecting_revokes_the_grant_at_x(api: TestClient, fake: FakeX, xs: Settings) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    account = connect(api, fake, admin, "202")
    with state_of(api).accounts.session() as session:
        row = session.get(XAccount, account["id"])
        assert row is not None
        assert row.refresh_token is not None
        refresh = TokenCipher.from_settings(xs.x, xs.development_secret).decrypt(row.refresh_token)
    assert api.delete(f"/v1/x/accounts/{account['id']}", headers=admin).status_code == 204
    assert refresh in fake.revoked
    assert refresh not in fake.refresh_tokens
    assert api.get("/v1/x/accounts", headers=admin).json()["count"] == 0
    assert api.delete(f"/v1/x/accounts/{account['id']}", headers=admin).status_code == 404
    assert ("x.disconnect", "x:202", "ok") in audit_actions(api, tenant)


def test_a_preview_says_when_x_rate_limits(api: TestClient, fake: FakeX, xs: Settings) -> None:
    admin = as_tenant(api, new_tenant())
    fake.add_user("505", "erin")
    account = connect(api, fake, admin, "505")
    before = len(fake.timeline_requests())
    fake.throttle(1, reset_in=30)
    url = f"/v1/x/accounts/{account['id']}/preview"
    limited = api.post(url, json={"wait": 0}, headers=admin)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "x_rate_limited"
    assert 25 <= int(limited.headers["Retry-After"]) <= 32
    again = api.post(url, json={"wait": 0}, headers=admin)
    assert again.status_code == 429
    assert len(fake.timeline_requests()) == before + 1  # the second never reached X
    listed = api.get("/v1/x/accounts", headers=admin).json()["data"][0]
    assert listed["rate_limited_until"] is not None


def test_a_preview_of_an_account_x_refused_asks_to_connect_again(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    admin = as_tenant(api, new_tenant())
    fake.add_user("606", "frank")
    account = connect(api, fake, admin, "606")
    for token, (user, _) in list(fake.access.items()):
        if user == "606":
            fake.access[token] = (user, 0.0)
    for token, user in list(fake.refresh_tokens.items()):
        if user == "606":
            del fake.refresh_tokens[token]
    url = f"/v1/x/accounts/{account['id']}/preview"
    refused = api.post(url, json={"wait": 0}, headers=admin)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "x_reauthorize")
    assert api.get("/v1/x/accounts", headers=admin).json()["data"][0]["status"] == "reauthorize"
    connect(api, fake, admin, "606")  # connecting again makes it active
    assert api.get("/v1/x/accounts", headers=admin).json()["data"][0]["status"] == "active"


def test_with_a_connected_page_the_callback_sends_the_browser_there(
    api: TestClient, fake: FakeX, xs: Settings
) -> None:
    page = "https://dashboard.example/settings/x?tab=accounts"
    with_page = xs.model_copy(update={"x": xs.x.model_copy(update={"connected_url": page})})
    api.app.dependency_overrides[x_settings] = lambda: with_page  # type: ignore[attr-defined]
    try:
        tenant = new_tenant()
        back = approve(fake, start(api, as_tenant(api, tenant)), "202")

        def callback(params: dict[str, str]) -> tuple[str, dict[str, list[str]]]:
            response = api.get(
                "/v1/x/callback", params=params, headers=anonymous(), follow_redirects=False
            )
            assert response.status_code == 303, response.text
            where = urlsplit(response.headers["location"])
            return f"{where.scheme}://{where.netloc}{where.path}", parse_qs(where.query)

        where, query = callback(back)
        assert where == "https://dashboard.example/settings/x"
        accounts = api.get("/v1/x/accounts", headers=as_tenant(api, tenant)).json()["data"]
        assert query == {"tab": ["accounts"], "x_account": [str(accounts[0]["id"])],
                         "x_username": ["bob"]}  # fmt: skip
        assert callback(back)[1] == {"tab": ["accounts"], "x_error": ["invalid_state"]}
    finally:
        api.app.dependency_overrides[x_settings] = lambda: xs  # type: ignore[attr-defined]
