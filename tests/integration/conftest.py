"""Fixtures of the integration tier. They start real parts: the embedded Tansu broker, the embedded
ClickHouse (chdb allows one database path per process, so the whole session shares one), the API
with its sink in this process, stream workers as subprocesses, and a model trained from a slice
of the labeled data. Every test here carries the `integration` marker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics
from infra.settings import Settings
from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant
from tests.support.paths import DATA
from tests.support.polling import wait_for
from tests.support.settings import ASSIST_SECRET, TEST_SECRET, settings_for
from tests.support.stack import Worker

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real model, trained from a slice of the labeled data (seconds, not minutes)."""
    from streams.training.train import train

    out = tmp_path_factory.mktemp("model")
    train(DATA, out, limit=1500, progress=False)
    return out


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    # In memory, as before: the durable storage has tests of its own (test_durability.py,
    # test_broker.py, test_up.py); the rest of the suite tests logic on the real broker.
    with EmbeddedBroker(tmp_path_factory.mktemp("broker"), durable=False) as running:
        asyncio.run(ensure_topics(running.bootstrap))
        yield running


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(broker: EmbeddedBroker, data_dir: Path) -> Settings:
    return settings_for(data_dir, broker.bootstrap)


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[TestClient]:
    """The API with its warehouse sink, running in this process against the real broker. It
    sends a token of tenant `demo` with every scope by default (`as_tenant` for others)."""
    from api.app import create_app

    with TestClient(create_app(settings, run_sink=True)) as client:
        client.headers["Authorization"] = as_tenant(client, "demo")["Authorization"]
        yield client


@pytest.fixture(scope="session")
def other_tenant(api: TestClient) -> dict[str, str]:
    """Headers of a second tenant, `other`, with every scope: for isolation tests."""
    return as_tenant(api, "other")


@pytest.fixture(scope="session")
def warehouse(api: TestClient) -> Warehouse:
    state: Any = api.app.state.modstream  # type: ignore[attr-defined]
    return state.warehouse  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def worker(
    settings: Settings, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    running = Worker(settings, model_dir, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def assist_service(
    settings: Settings, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """`modstream assist` in a subprocess, where the `api` fixture's settings point (its tenants'
    policies are read from the same accounts store)."""
    import httpx

    running = Worker(
        settings, model_dir, tmp_path_factory.mktemp("assist") / "assist.log", command="assist"
    )
    running.env |= {
        "MODSTREAM_ENV": "test",
        "MODSTREAM_SECRET_KEY": TEST_SECRET,
        "MODSTREAM_ASSIST_PORT": str(settings.assist.port),
        "MODSTREAM_ASSIST_SECRET": ASSIST_SECRET,
        # Its webhook deliverer shares the accounts store's rows: configured like the `api`
        # fixture's, or it would refuse the local receivers and count failed attempts.
        "MODSTREAM_REVIEW_WEBHOOK_ALLOWED_NETWORKS": json.dumps(
            settings.review.webhook_allowed_networks
        ),
        "MODSTREAM_REVIEW_WEBHOOK_BACKOFF": str(settings.review.webhook_backoff),
    }
    running.start()

    def healthy() -> bool:
        assert running.proc is not None
        if running.proc.poll() is not None:
            pytest.fail(f"assist exited: {running.log.read_text()[-2000:]}")
        try:
            url = f"http://127.0.0.1:{settings.assist.port}/health"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=120, what="the assist service")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def served_api(
    settings: Settings, assist_service: Worker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`modstream serve --no-sink` in a subprocess on a real port, for clients that need a URL
    (the `openai` and Google API clients): the `api` fixture's accounts store, broker and
    assist service, a warehouse of its own (chdb opens one path per process; the `api` fixture's
    sink stores what it publishes). Yields its base URL."""
    import httpx

    from infra.processes import free_port

    port = free_port()
    running = Worker(
        settings, Path(settings.models_path), tmp_path_factory.mktemp("served") / "api.log",
        command="serve --no-sink",
    )  # fmt: skip
    running.env |= {
        "MODSTREAM_ENV": "test",
        "MODSTREAM_SECRET_KEY": TEST_SECRET,
        "MODSTREAM_DATA_DIR": str(tmp_path_factory.mktemp("served-data")),
        "MODSTREAM_ACCOUNTS_URL": settings.accounts_db_url,
        "MODSTREAM_API_PORT": str(port),
        "MODSTREAM_ASSIST_PORT": str(settings.assist.port),
        "MODSTREAM_ASSIST_SECRET": ASSIST_SECRET,
        # Its webhook deliverer shares the accounts store's rows: configured like the `api`
        # fixture's, or it would refuse the local receivers and count failed attempts.
        "MODSTREAM_REVIEW_WEBHOOK_ALLOWED_NETWORKS": json.dumps(
            settings.review.webhook_allowed_networks
        ),
        "MODSTREAM_REVIEW_WEBHOOK_BACKOFF": str(settings.review.webhook_backoff),
    }
    running.start()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert running.proc is not None
        if running.proc.poll() is not None:
            pytest.fail(f"serve exited: {running.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=120, what="the served API")
    yield base
    running.stop()
