"""Connecting X accounts through the API against the fake X: the settings that point the API at
it, the PKCE round trip an operator makes in a browser, and the audit trail it leaves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from api.routes.x import x_settings
from infra.settings import Settings
from tests.support.accounts import anonymous, state_of
from tests.support.fake_x import CLIENT_ID, FakeX

KEY = Fernet.generate_key().decode()


def x_configured(settings: Settings, fake: FakeX) -> Settings:
    """`settings` with X configured, pointing at the fake."""
    x = settings.x.model_copy(
        update={
            "client_id": CLIENT_ID,
            "api_url": fake.url,
            "authorize_url": f"{fake.url}/i/oauth2/authorize",
            "token_key": SecretStr(KEY),
            "page_size": 5,
        }
    )
    return settings.model_copy(update={"x": x})


def start(api: TestClient, headers: dict[str, str]) -> str:
    """Ask the API to connect an account: the URL at X it sends the operator to."""
    response = api.post("/v1/x/connect", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["authorization_url"])


def approve(fake: FakeX, url: str, user: str) -> dict[str, str]:
    """The operator approves at X as `user`: the query X sends the browser back with."""
    fake.approver = user
    return {k: v[0] for k, v in parse_qs(urlsplit(fake.authorize(url)).query).items()}


def connect(api: TestClient, fake: FakeX, headers: dict[str, str], user: str) -> dict[str, Any]:
    """The whole round trip, approved as `user`: the connected account as the API answers."""
    back = approve(fake, start(api, headers), user)
    response = api.get("/v1/x/callback", params=back, headers=anonymous())
    assert response.status_code == 200, response.text
    return dict(response.json())


def audit_actions(api: TestClient, tenant: str) -> list[tuple[str, str | None, str]]:
    """The `x.*` entries of the tenant's audit log, oldest first: (action, target, outcome)."""
    with state_of(api).accounts.session() as session:
        rows = session.execute(
            text("SELECT action, target, outcome FROM audit_log WHERE tenant = :t ORDER BY id"),
            {"t": tenant},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows if r[0].startswith("x.")]


@contextmanager
def fake_x() -> Iterator[FakeX]:
    """The fake X with the three users the tests connect."""
    with FakeX() as running:
        for user_id, name in (("101", "alice"), ("202", "bob"), ("303", "carol")):
            running.add_user(user_id, name)
        yield running


@contextmanager
def x_enabled(api: TestClient, settings: Settings, fake: FakeX) -> Iterator[Settings]:
    """The API's X routes see `settings` with X configured against the fake, until the end."""
    configured = x_configured(settings, fake)
    api.app.dependency_overrides[x_settings] = lambda: configured  # type: ignore[attr-defined]
    try:
        yield configured
    finally:
        api.app.dependency_overrides.pop(x_settings, None)  # type: ignore[attr-defined]
