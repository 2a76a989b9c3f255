"""Shared fixtures. Integration fixtures start real parts: the embedded Tansu broker, the embedded
ClickHouse (chdb allows one database path per process, so the whole session shares one), the API
with its sink in this process, and stream workers as subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics
from infra.processes import die_with_parent, free_port
from infra.settings import AccountsSettings, AssistSettings, Settings, SinkSettings
from infra.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MODSTREAM_TRAINING_DATA", REPO.parent / "shared" / "data"))


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


TEST_SECRET = "test-secret-" + "x" * 40
ASSIST_SECRET = "assist-secret-" + "y" * 40
ALL_SCOPES = ("ingest", "read", "moderate", "admin")


@pytest.fixture(scope="session")
def settings(broker: EmbeddedBroker, data_dir: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=data_dir,
        kafka_bootstrap=broker.bootstrap,
        sink=SinkSettings(flush_interval=0.1),
        accounts=AccountsSettings(
            secret_key=SecretStr(TEST_SECRET),
            privacy_refresh=0.2,
            login_rate_per_minute=10_000,  # tests/test_auth.py tests the limit with its own
        ),
        assist=AssistSettings(port=free_port(), secret=SecretStr(ASSIST_SECRET)),
    )


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[TestClient]:
    """The API with its warehouse sink, running in this process against the real broker. It
    sends a token of tenant `demo` with every scope by default (`as_tenant` for others)."""
    from api.app import create_app

    with TestClient(create_app(settings, run_sink=True)) as client:
        client.headers["Authorization"] = as_tenant(client, "demo")["Authorization"]
        yield client


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
    from api.accounts import service
    from infra.accounts.models import Tenant

    state: Any = api.app.state.modstream  # type: ignore[attr-defined]
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


@pytest.fixture(scope="session")
def other_tenant(api: TestClient) -> dict[str, str]:
    """Headers of a second tenant, `other`, with every scope: for isolation tests."""
    return as_tenant(api, "other")


@pytest.fixture(scope="session")
def warehouse(api: TestClient) -> Warehouse:
    state: Any = api.app.state.modstream  # type: ignore[attr-defined]
    return state.warehouse  # type: ignore[no-any-return]


class Worker:
    """`modstream worker` in a subprocess, for tests that start, kill and restart it."""

    def __init__(
        self, settings: Settings, model_dir: Path, log: Path, command: str = "worker"
    ) -> None:
        self.command = command
        self.env = os.environ | {
            "MODSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
            "MODSTREAM_DATA_DIR": str(settings.data_dir),
            "MODSTREAM_MODEL_DIR": str(model_dir),
            "MODSTREAM_LOG_LEVEL": "INFO",
            "MODSTREAM_POLICY_REFRESH": "0.5",
            # The media tests serve files from 127.0.0.1: granted here, as an operator would.
            "MODSTREAM_MEDIA_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.cli", self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")


def post_event(
    event_id: str,
    text: str,
    *,
    tenant: str = "demo",
    source: str = "comments",
    external_id: str | None = None,
    author: str = "user-1",
    lang: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": external_id or event_id,
        "author": author,
        "text": text,
    }
    if lang:
        payload["lang"] = lang
    return {
        "event_id": event_id,
        "tenant": tenant,
        "source": source,
        "kind": "post",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


def as_json(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def up_env(data_dir: Path, model_dir: Path) -> tuple[dict[str, str], str]:
    """The environment for a `modstream up` of its own (no inherited MODSTREAM_ settings, free
    ports, a trained model), and its API's URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")} | {
        "MODSTREAM_DATA_DIR": str(data_dir),
        "MODSTREAM_MODEL_DIR": str(model_dir),
        "MODSTREAM_API_PORT": str(port),
        "MODSTREAM_CHAT_PORT": str(free_port()),
        "MODSTREAM_ASSIST_PORT": str(free_port()),
    }
    return env, f"http://127.0.0.1:{port}"
