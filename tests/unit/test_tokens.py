"""API tokens: a recognisable prefix, shown once, stored only as a hash (read from the database
files to prove it), scopes enforced, revocation effective at once, last-used time kept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infra.accounts.models import ApiToken
from infra.settings import Settings
from tests.support.accounts import (
    bearer,
    create_token,
    login,
    make_token,
    make_user,
    new_admin,
    state_of,
)
from tests.support.read_rows import new_tenant


@pytest.fixture(scope="module")
def admin(api: TestClient) -> tuple[str, dict[str, str]]:
    return new_admin(api)


def test_a_token_has_the_prefix_and_is_shown_once(
    api: TestClient, admin: tuple[str, dict[str, str]], settings: Settings
) -> None:
    made = create_token(api, admin[1], ["read"])
    assert made["token"].startswith(settings.accounts.token_prefix)
    assert len(made["token"]) > len(settings.accounts.token_prefix) + 40
    assert made["hint"] == made["token"][: len(settings.accounts.token_prefix) + 4]
    listed = api.get("/v1/tokens", headers=admin[1]).json()["data"]
    mine = next(t for t in listed if t["id"] == made["id"])
    assert "token" not in mine
    assert made["token"] not in api.get("/v1/tokens", headers=admin[1]).text


def test_only_a_hash_is_stored(
    api: TestClient, admin: tuple[str, dict[str, str]], settings: Settings
) -> None:
    made = create_token(api, admin[1], ["read"])
    with state_of(api).accounts.session() as session:
        row = session.get(ApiToken, made["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(made["token"].encode()).hexdigest()
    secret = made["token"].encode()
    files = list(Path(settings.data_dir).glob("accounts.db*"))  # the database, its WAL
    assert files
    assert not [f for f in files if secret in f.read_bytes()]


def test_nobody_grants_scopes_they_lack(api: TestClient, admin: tuple[str, dict[str, str]]) -> None:
    member = login(api, make_user(api, admin[0], "member"))
    assert create_token(api, member, ["read"])["scopes"] == ["read"]
    response = api.post("/v1/tokens", json={"name": "x", "scopes": ["ingest"]}, headers=member)
    assert response.status_code == 403
    reader = bearer(create_token(api, admin[1], ["read"])["token"])  # tokens do not mint tokens
    assert api.post("/v1/tokens", json={"name": "x", "scopes": ["read"]},
                    headers=reader).status_code == 403  # fmt: skip


def test_a_revoked_token_stops_at_once(api: TestClient, admin: tuple[str, dict[str, str]]) -> None:
    made = create_token(api, admin[1], ["read"])
    headers = bearer(made["token"])
    assert api.get("/v1/me", headers=headers).status_code == 200
    assert api.delete(f"/v1/tokens/{made['id']}", headers=admin[1]).status_code == 204
    response = api.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    listed = {t["id"]: t for t in api.get("/v1/tokens", headers=admin[1]).json()["data"]}
    assert listed[made["id"]]["revoked_at"] is not None


def test_last_used_is_recorded(api: TestClient, admin: tuple[str, dict[str, str]]) -> None:
    made = create_token(api, admin[1], ["read"])
    assert made["last_used_at"] is None
    api.get("/v1/me", headers=bearer(made["token"]))
    listed = {t["id"]: t for t in api.get("/v1/tokens", headers=admin[1]).json()["data"]}
    assert listed[made["id"]]["last_used_at"] is not None


def test_owners_manage_their_own_tokens_and_nobody_another_tenants(
    api: TestClient, admin: tuple[str, dict[str, str]]
) -> None:
    member_a = login(api, make_user(api, admin[0], "member"))
    member_b = login(api, make_user(api, admin[0], "member"))
    made = create_token(api, member_a, ["read"])
    assert [t["id"] for t in api.get("/v1/tokens", headers=member_b).json()["data"]] == []
    assert api.delete(f"/v1/tokens/{made['id']}", headers=member_b).status_code == 404
    stranger = login(api, make_user(api, new_tenant(), "admin"))
    assert api.delete(f"/v1/tokens/{made['id']}", headers=stranger).status_code == 404
    assert made["id"] not in [
        t["id"] for t in api.get("/v1/tokens", headers=stranger).json()["data"]
    ]
    assert api.get("/v1/me", headers=bearer(made["token"])).status_code == 200  # still alive
    assert api.delete(f"/v1/tokens/{made['id']}", headers=admin[1]).status_code == 204


def test_an_expired_token_is_refused(api: TestClient) -> None:
    token_id, secret = make_token(api, new_tenant(), ("read",))
    with state_of(api).accounts.session() as session:
        row = session.get(ApiToken, token_id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = api.get("/v1/me", headers=bearer(secret))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
