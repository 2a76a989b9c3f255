"""Accepted means judged: every service of the embedded stack, the broker and its object store
included, SIGKILLed under load, and not one accepted event without its verdict; `modstream up`
ended in every way a user ends it, and no process left behind."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infra.chaos import TARGETS, run_chaos
from infra.processes import descendants, pid_alive
from tests.conftest import up_env, wait_for

pytestmark = pytest.mark.integration


def test_every_service_sigkilled_under_load_loses_nothing(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODSTREAM_MODEL_DIR", str(model_dir))
    order = itertools.cycle(TARGETS)

    def next_alive(alive: list[str]) -> str:  # each service in turn: all of them get killed
        return next(name for name in order if name in alive)

    run = run_chaos(
        tmp_path, events=2_000, rate=80, kill_every=4.5, batch=20, targets=list(TARGETS),
        settle=300, choose=next_alive,
    )  # fmt: skip
    assert set(run.kills) == set(TARGETS), run.kills
    assert len(run.accepted) == 2_000  # every request was answered 202 in the end (retries)
    assert run.lost_on_topic == 0
    assert run.lost_in_warehouse == 0
    assert run.doubled_in_warehouse == 0
    # The topic is at-least-once; the ledger leaves a few milliseconds per batch for a copy.
    assert run.doubled_on_topic <= 2 * run.kills["worker"] * 20, run.doubled_on_topic


def start_up(tmp_path: Path, model_dir: Path, stdout: int) -> tuple[subprocess.Popen[bytes], str]:
    env, api = up_env(tmp_path, model_dir)
    up = subprocess.Popen(  # its own group, as a terminal would give it
        [sys.executable, "-m", "infra.cli", "up", "--no-samples"],
        env=env, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return up, api


def wait_for_everything(up: subprocess.Popen[bytes], tmp_path: Path) -> set[int]:
    def ready() -> bool:
        try:
            services = json.loads((tmp_path / "services.json").read_text())["services"]
        except (OSError, ValueError, KeyError):
            return False
        wanted = {"objects", "broker", "worker", "strikes", "chat", "assist", "api"}
        return wanted <= set(services) and all(
            services[name]["state"] == "running" for name in wanted
        )

    wait_for(ready, timeout=180, what="every service of modstream up")
    # The worker's pipeline child (and multiprocessing's resource tracker) start a bit later.
    wait_for(lambda: len(descendants(up.pid)) >= 9, timeout=120, what="the pipeline's child")
    return descendants(up.pid)


@pytest.mark.parametrize("ending", ["SIGTERM", "SIGKILL", "closed stdout, then Ctrl-C"])
def test_however_up_ends_no_process_outlives_it(
    tmp_path: Path, model_dir: Path, ending: str
) -> None:
    up, _ = start_up(tmp_path, model_dir, subprocess.PIPE)
    assert up.stdout is not None
    try:
        processes = wait_for_everything(up, tmp_path)
        if ending == "SIGTERM":
            up.send_signal(signal.SIGTERM)
        elif ending == "SIGKILL":
            up.send_signal(signal.SIGKILL)
        else:  # `make run | tee log`, then Ctrl-C: tee is gone, up writes to a closed pipe
            up.stdout.close()
            up.send_signal(signal.SIGINT)
        up.wait(60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        up.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in processes):
        time.sleep(0.2)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in processes if pid_alive(p)}
    assert not left, f"left behind after {ending}: {left}"
    if ending == "SIGTERM":
        assert up.returncode == 0
    # With its console gone `up` still stops everything, then exits 1 as click does on EPIPE.


def test_writes_are_refused_with_retry_after_while_draining(api: TestClient) -> None:
    """The API half of Ctrl-C: after SIGUSR1 from `up`, writes answer 503 with Retry-After."""
    state = api.app.state.modstream  # type: ignore[attr-defined]
    state.draining = True
    try:
        response = api.post("/v1/events", json={})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert response.json()["error"]["code"] == "draining"
        health = api.get("/health")
        assert health.status_code == 503
        assert health.json()["draining"] is True
        assert api.get("/v1/verdicts/no-such-event").status_code == 404  # reads still answer
    finally:
        state.draining = False
    assert api.post("/v1/events", json={}).status_code == 422
