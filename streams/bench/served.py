"""The API and the assist service as `modstream up` runs them, started for a benchmark.

`bench assist` and `bench moderate` time requests through both: a temporary data folder, an
embedded broker (unless one is configured), `modstream serve` and `modstream assist` as child
processes with their output in logs under the data directory (stdout carries only the figures),
and a tenant `bench` with a token made by `modstream admin`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.broker import stack_broker
from infra.errors import ModstreamError
from infra.processes import free_port
from infra.settings import Settings
from infra.supervisor import Service, Supervisor, modstream_argv

__all__ = ["Served", "served"]


@dataclass(frozen=True, slots=True)
class Served:
    api: str  # base URL
    assist: str  # base URL
    token: str  # of tenant `bench`, with the scopes asked for
    assist_secret: str


@contextmanager
def served(settings: Settings, name: str, scopes: str) -> Iterator[Served]:
    """The API and the assist service running until the block ends; `name` prefixes logs."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"modstream-{name}-") as tmp:
        folder = Path(tmp)
        broker = None
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:
            broker = stack_broker(folder / "broker", settings.broker).start()
            bootstrap = broker.bootstrap
        api_port, assist_port = free_port(), free_port()
        secret = secrets.token_urlsafe(32)
        env = {
            "MODSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "MODSTREAM_DATA_DIR": str(folder),
            "MODSTREAM_MODEL_DIR": str(settings.models_path),
            "MODSTREAM_API_PORT": str(api_port),
            "MODSTREAM_ASSIST_PORT": str(assist_port),
            "MODSTREAM_ASSIST_SECRET": secret,
            "MODSTREAM_LOG_LEVEL": "WARNING",
        }
        supervisor = Supervisor(env)
        try:
            logs = settings.data_dir
            api = supervisor.spawn(
                Service("api", modstream_argv("serve"), log=logs / f"{name}-api.log")
            )
            assist = supervisor.spawn(
                Service("assist", modstream_argv("assist"), log=logs / f"{name}-assist.log")
            )
            for child, port, what in (
                (assist, assist_port, "the assist service"), (api, api_port, "the API")
            ):  # fmt: skip
                _wait(f"http://127.0.0.1:{port}/health", child.proc, what, child.service.log)
            _admin(env, "create-tenant", "bench")
            token = _admin(env, "create-token", "--tenant", "bench", "--scopes", scopes).split()[-1]
            yield Served(
                f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{assist_port}", token, secret
            )
        finally:
            supervisor.stop_all()
            if broker:
                broker.stop()


def _admin(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own command, no shell
        modstream_argv("admin", *args), env=os.environ | env, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return done.stdout


def _wait(
    url: str, proc: subprocess.Popen[bytes], what: str, log: Path | None, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModstreamError(f"{what} exited with code {proc.returncode} (its output: {log})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ModstreamError(f"{what} did not become ready within {timeout:.0f}s")
