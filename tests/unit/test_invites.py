"""Registration and invitation codes: each refusal with its own message, atomic consumption under
concurrency, the user limit, and the registration modes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infra.accounts.models import Invite, User
from tests.support.accounts import PASSWORD, anonymous, login, make_user, new_email, state_of
from tests.support.read_rows import new_tenant


@pytest.fixture(scope="module")
def admin(api: TestClient) -> tuple[str, dict[str, str]]:
    tenant = new_tenant()
    return tenant, login(api, make_user(api, tenant, "admin"))


def invite(api: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = api.post("/v1/invites", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def register(api: TestClient, code: str | None = None, **extra: Any) -> Any:
    body = {"email": new_email(), "password": PASSWORD} | extra
    if code is not None:
        body["invite_code"] = code
    return api.post("/v1/auth/register", json=body, headers=anonymous())


def refusal(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def users(api: TestClient) -> int:
    with state_of(api).accounts.session() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def test_an_invite_registers_a_user_of_its_tenant_and_role(
    api: TestClient, admin: tuple[str, dict[str, str]]
) -> None:
    made = invite(api, admin[1], role="moderator", max_uses=2)
    assert made["code"].startswith("inv_")
    response = register(api, made["code"])
    assert response.status_code == 201, response.text
    assert response.json()["tenant"] == admin[0]
    assert response.json()["role"] == "moderator"
    assert login(api, response.json()["email"])
    listed = {i["id"]: i for i in api.get("/v1/invites", headers=admin[1]).json()}
    assert listed[made["id"]]["uses"] == 1
    assert "code" not in listed[made["id"]]


def test_each_refusal_says_why(
    api: TestClient, admin: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert refusal(register(api)) == (
        400, "invite_required", "registration needs an invitation code"
    )  # fmt: skip
    assert refusal(register(api, "inv_nope")) == (
        400, "invite_invalid", "this invitation code does not exist"
    )  # fmt: skip
    inactive = invite(api, admin[1])
    assert api.delete(f"/v1/invites/{inactive['id']}", headers=admin[1]).status_code == 204
    assert refusal(register(api, inactive["code"])) == (
        403, "invite_inactive", "this invitation code has been deactivated"
    )  # fmt: skip
    expired = invite(api, admin[1])
    with state_of(api).accounts.session() as session:
        row = session.get(Invite, expired["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert refusal(register(api, expired["code"])) == (
        403, "invite_expired", "this invitation code has expired"
    )  # fmt: skip
    once = invite(api, admin[1], max_uses=1)
    assert register(api, once["code"]).status_code == 201
    assert refusal(register(api, once["code"])) == (
        403, "invite_used_up", "this invitation code has been used up"
    )  # fmt: skip
    full = invite(api, admin[1], max_uses=5)
    monkeypatch.setattr(state_of(api).settings.accounts, "max_users", users(api))
    status, code, message = refusal(register(api, full["code"]))
    assert (status, code) == (403, "user_limit_reached")
    assert "user limit" in message
    monkeypatch.setattr(state_of(api).settings.accounts, "registration", "closed")
    assert refusal(register(api, full["code"])) == (
        403, "registration_closed", "registration is closed: ask an administrator"
    )  # fmt: skip
    with state_of(api).accounts.session() as session:  # no refusal used the invite up
        assert session.get(Invite, full["id"]).uses == 0


def test_an_invite_is_consumed_atomically_under_concurrency(
    api: TestClient, admin: tuple[str, dict[str, str]]
) -> None:
    made = invite(api, admin[1], max_uses=3)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: register(api, made["code"]), range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [403] * 5
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 403} == {
        "invite_used_up"
    }
    with state_of(api).accounts.session() as session:
        assert session.get(Invite, made["id"]).uses == 3


def test_the_user_limit_holds_under_concurrency(
    api: TestClient, admin: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = invite(api, admin[1], max_uses=10)
    monkeypatch.setattr(state_of(api).settings.accounts, "max_users", users(api) + 2)
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: register(api, made["code"]), range(6)))
    assert sorted(r.status_code for r in responses) == [201] * 2 + [403] * 4
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 403} == {
        "user_limit_reached"
    }


def test_open_registration_creates_a_tenant_with_its_first_admin(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_of(api).settings.accounts, "registration", "open")
    tenant = new_tenant()
    response = register(api, tenant=tenant)
    assert response.status_code == 201, response.text
    assert (response.json()["tenant"], response.json()["role"]) == (tenant, "admin")
    taken = register(api, tenant=tenant)  # nobody joins an existing tenant without an invite
    assert refusal(taken)[:2] == (409, "tenant_taken")
    again = api.post(
        "/v1/auth/register",
        json={"email": response.json()["email"], "password": PASSWORD, "tenant": new_tenant()},
        headers=anonymous(),
    )
    assert refusal(again)[:2] == (409, "email_taken")


def test_weak_passwords_and_bad_emails_are_refused(
    api: TestClient, admin: tuple[str, dict[str, str]]
) -> None:
    made = invite(api, admin[1])
    weak = api.post("/v1/auth/register", json={"email": new_email(), "password": "short",
                    "invite_code": made["code"]}, headers=anonymous())  # fmt: skip
    assert refusal(weak)[:2] == (422, "weak_password")
    bad = api.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD,
                   "invite_code": made["code"]}, headers=anonymous())  # fmt: skip
    assert refusal(bad)[:2] == (422, "invalid_email")
    with state_of(api).accounts.session() as session:
        assert session.get(Invite, made["id"]).uses == 0


def test_only_tenant_admins_manage_invites(
    api: TestClient, admin: tuple[str, dict[str, str]]
) -> None:
    moderator = login(api, make_user(api, admin[0], "moderator"))
    assert api.post("/v1/invites", json={}, headers=moderator).status_code == 403
    assert api.get("/v1/invites", headers=moderator).status_code == 403
    made = invite(api, admin[1])
    stranger = login(api, make_user(api, new_tenant(), "admin"))
    assert api.delete(f"/v1/invites/{made['id']}", headers=stranger).status_code == 404
    assert made["id"] not in [i["id"] for i in api.get("/v1/invites", headers=stranger).json()]
