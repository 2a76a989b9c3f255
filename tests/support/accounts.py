"""Accounts for tests: users and API tokens made through the service, logins over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from api.accounts import security, service
from infra.accounts.models import Tenant
from tests.support.read_rows import new_tenant

PASSWORD = "correct horse battery staple"
ALL_SCOPES = ("ingest", "read", "moderate", "admin", "private")


def state_of(api: TestClient) -> Any:
    return api.app.state.modstream  # type: ignore[attr-defined]


def new_email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@example.com"


def make_user(
    api: TestClient, tenant: str, role: str = "admin", *, email: str | None = None,
    password: str = PASSWORD,
) -> str:  # fmt: skip
    """A user of `tenant` (created if missing); returns the email."""
    email = email or new_email()
    with state_of(api).accounts.session() as session:
        found = session.query(Tenant).filter_by(name=tenant).one_or_none()
        if found is None:
            found = service.create_tenant(session, tenant)
        service.create_user(session, found, email, security.hash_password(password), role)
    return email


def login(api: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Headers with a fresh login JWT (and no default token)."""
    response = api.post(
        "/v1/auth/login", json={"email": email, "password": password}, headers=anonymous()
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def anonymous() -> dict[str, str]:
    """Overrides the `api` client's default token with nothing usable."""
    return {"Authorization": ""}


_TOKENS: dict[tuple[int, str, tuple[str, ...]], str] = {}


def make_token(
    api: TestClient,
    tenant: str,
    scopes: tuple[str, ...] = ALL_SCOPES,
    *,
    privacy: bool = False,
    name: str = "tests",
) -> tuple[int, str]:
    """A new API token of `tenant` (created if missing) through the accounts service: (id,
    secret)."""
    state = state_of(api)
    with state.accounts.session() as session:
        found = session.query(Tenant).filter_by(name=tenant).one_or_none()
        if found is None:
            found = service.create_tenant(session, tenant, privacy_mode=privacy)
        token, secret = service.create_token(
            session, state.settings.accounts, found, name=name, scopes=frozenset(scopes),
            user_id=None, expires_at=None, actor="tests", ctx=service.CLI,
        )  # fmt: skip
    state.privacy.invalidate()
    return token.id, secret


def as_tenant(api: TestClient, tenant: str, scopes: tuple[str, ...] = ALL_SCOPES) -> dict[str, str]:
    """Headers that authenticate as `tenant` (its token is made once per tenant and scopes)."""
    key = (id(api.app), tenant, tuple(sorted(scopes)))
    if key not in _TOKENS:
        _TOKENS[key] = make_token(api, tenant, scopes)[1]
    return {"Authorization": f"Bearer {_TOKENS[key]}"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_admin(api: TestClient) -> tuple[str, dict[str, str]]:
    """A new tenant and its admin's login headers."""
    tenant = new_tenant()
    return tenant, login(api, make_user(api, tenant, "admin"))


def create_token(
    api: TestClient, headers: dict[str, str], scopes: list[str], name: str = "app"
) -> dict[str, Any]:
    """A token made through `POST /v1/tokens` (the secret is shown this once)."""
    response = api.post("/v1/tokens", json={"name": name, "scopes": scopes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
