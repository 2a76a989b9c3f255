"""Fixtures of the unit tier. Nothing here starts a broker, opens the warehouse, trains a model
or runs a process of the stack: the API is built with fakes at its seams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.accounts.limits import LoginLimiter
from api.app import create_app
from api.routes.assist import AssistClient
from api.state import AppState
from infra.accounts import AccountsDB, PrivacyRegistry
from infra.processes import free_port
from infra.settings import Settings
from tests.support.accounts import as_tenant
from tests.support.fakes import RecordingPublisher, no_warehouse
from tests.support.settings import settings_for


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The integration tier's settings, over a data directory of this tier's own and with a broker
    address where nothing listens."""
    return settings_for(tmp_path_factory.mktemp("unit-data"), f"127.0.0.1:{free_port()}")


@pytest.fixture(scope="session")
def published() -> RecordingPublisher:
    """What the `api` fixture's app published, in order."""
    return RecordingPublisher()


@pytest.fixture(scope="session")
def api(settings: Settings, published: RecordingPublisher) -> Iterator[TestClient]:
    """The API's routes, validation and authentication, with the default token of tenant `demo`
    that the integration tier's `api` sends. Its lifespan (which connects to the broker and the
    warehouse) does not run: its state holds the real accounts store (SQLite in the data
    directory), the recording publisher, and no warehouse, live feed or block list."""
    app = create_app(settings)
    accounts = AccountsDB(settings.accounts_db_url)
    accounts.create_schema()
    app.state.modstream = AppState(
        settings, settings.require_bootstrap(), published, no_warehouse(), accounts,
        PrivacyRegistry(accounts, ttl=settings.accounts.privacy_refresh),
        LoginLimiter(settings.accounts.login_rate_per_minute),
    )  # fmt: skip
    app.state.assist = AssistClient(settings.assist)
    client = TestClient(app)
    client.headers["Authorization"] = as_tenant(client, "demo")["Authorization"]
    yield client
    client.close()
    asyncio.run(app.state.assist.aclose())
    accounts.close()
