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

from infra.broker import EmbeddedBroker, die_with_parent
from infra.kafka import ensure_topics
from infra.settings import Settings
from infra.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MODSTREAM_TRAINING_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real model, trained from a slice of the labeled data (seconds, not minutes)."""
    from streams.text.training import train

    out = tmp_path_factory.mktemp("model")
    train(DATA, out, limit=1500, progress=False)
    return out


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path_factory.mktemp("broker")) as running:
        asyncio.run(ensure_topics(running.bootstrap))
        yield running


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(broker: EmbeddedBroker, data_dir: Path) -> Settings:
    return Settings(
        env="test", data_dir=data_dir, kafka_bootstrap=broker.bootstrap, sink_flush_interval=0.1
    )


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[TestClient]:
    """The API with its warehouse sink, running in this process against the real broker."""
    from api.app import create_app

    with TestClient(create_app(settings, run_sink=True)) as client:
        yield client


@pytest.fixture(scope="session")
def warehouse(api: TestClient) -> Warehouse:
    state: Any = api.app.state.modstream  # type: ignore[attr-defined]
    return state.warehouse  # type: ignore[no-any-return]


class Worker:
    """`modstream worker` in a subprocess, for tests that start, kill and restart it."""

    def __init__(self, settings: Settings, model_dir: Path, log: Path) -> None:
        self.env = os.environ | {
            "MODSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
            "MODSTREAM_DATA_DIR": str(settings.data_dir),
            "MODSTREAM_MODEL_DIR": str(model_dir),
            "MODSTREAM_LOG_LEVEL": "INFO",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.cli", "worker"],
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
