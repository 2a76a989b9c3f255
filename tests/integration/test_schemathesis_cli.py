"""The OpenAPI document as an outside client meets it: `schemathesis run --checks all` over the
whole document (the live feed, the X routes and the login routes left out), against a real API
process (`modstream serve`) on the suite's broker, with the composer assist service running.
Every check must pass: no server error, every status documented, schema-valid requests accepted
and schema-violating ones refused, responses as their schemas say, `Allow` as documented, and the
stateful links between operations. A cursor is a position in plain sight (`<key>~<id>`,
api/read/cursor.py), so any value its pattern admits pages; what JSON Schema cannot state is
allowed in schemathesis.toml beside this file, per operation and status.

Bounded: `MAX_EXAMPLES` examples per operation and phase, a fixed seed. On the 2-core machine the
run takes a few minutes. The credential is a login token, which the
run cannot revoke (an API token it would find through `GET /v1/tokens` and revoke)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.processes import die_with_parent, free_port
from infra.settings import Settings
from tests.support.polling import wait_for
from tests.support.settings import ASSIST_SECRET
from tests.support.stack import Worker

MAX_EXAMPLES = 20
SEED = 1
EXCLUDED = r"^/v1/(auth|x)/|^/v1/verdicts/stream$"
PASSWORD = "correct horse battery staple"
CONFIG = Path(__file__).with_name("schemathesis.toml")
"""The few refusals JSON Schema cannot state (a grammar, two fields compared, Perspective's
400s), allowed per operation and status, each with its reason; no check is switched off."""


def modstream(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def served(
    settings: Settings, assist_service: Worker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A `modstream serve` of its own (its own accounts and warehouse; no sink, so the suite's
    sink keeps its group), and a login token of an admin of tenant `fuzz`."""
    data = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")} | {
        "MODSTREAM_ENV": "development",
        "MODSTREAM_DATA_DIR": str(data),
        "MODSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "MODSTREAM_API_PORT": str(port),
        "MODSTREAM_ASSIST_PORT": str(settings.assist.port),
        "MODSTREAM_ASSIST_SECRET": ASSIST_SECRET,
        "MODSTREAM_LOGIN_RATE_PER_MINUTE": "10000",
        "MODSTREAM_NEW_PASSWORD": PASSWORD,
    }
    modstream(env, "admin", "create-tenant", "fuzz")
    modstream(env, "admin", "create-user", "--tenant", "fuzz", "--email", "fuzz@example.com",
              "--role", "admin")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with (data / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "serve", "--no-sink"],
            env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )  # fmt: skip
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=120, what="the API process")
        login = {"email": "fuzz@example.com", "password": PASSWORD}
        answer = httpx.post(f"{base}/v1/auth/login", json=login, timeout=10)
        assert answer.status_code == 200, answer.text
        yield base, answer.json()["access_token"]
    finally:
        proc.terminate()
        proc.wait(30)


def test_every_check_passes_over_the_whole_document(
    served: tuple[str, str], tmp_path: Path
) -> None:
    base, token = served
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--exclude-path-regex",
            EXCLUDED,
            "--no-color",
            "--header",
            f"Authorization: Bearer {token}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-12_000:]
    assert "operations" in run.stdout.lower()
