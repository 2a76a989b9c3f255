"""`modstream up` as a new user runs it (what `make run` starts): the whole embedded stack comes
up, the sample events' verdicts are served, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.processes import descendants, free_port, pid_alive
from tests.support.polling import wait_for
from tests.support.stack import up_env


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def test_up_serves_sample_verdicts_and_ctrl_c_stops_everything(
    tmp_path: Path, model_dir: Path
) -> None:
    env, api = up_env(tmp_path, model_dir)
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        token_file = tmp_path / "dev-token"  # development only: a demo tenant and its token
        wait_for(token_file.exists, timeout=120, what="the development token")
        assert token_file.stat().st_mode & 0o777 == 0o600
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}

        def verdict(event_id: str) -> dict[str, float] | None:
            try:
                response = httpx.get(f"{api}/v1/verdicts/{event_id}", headers=headers, timeout=2)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        rude = wait_for(lambda: verdict("sample-en-2"), timeout=120, what="a sample verdict")
        kind = wait_for(lambda: verdict("sample-en-1"), what="another sample verdict")
        assert rude["toxic"] > kind["toxic"]
        assert httpx.get(f"{api}/v1/verdicts/sample-en-1", timeout=2).status_code == 401
        drafted = wait_for(  # the assist service runs too
            lambda: httpx.post(f"{api}/v1/assist", json={"text": "you idiot"}, headers=headers,
                               timeout=5).json().get("decision"),
            timeout=60, what="the assist service through the API",
        )  # fmt: skip
        assert drafted != "approve"
        processes = descendants(up.pid)
        assert len(processes) >= 5  # broker, worker, strikes, API, chat at least
    finally:
        up.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = up.wait(60)
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert "Modstream is up" in output
    assert f"{api}/docs" in output
    assert headers["Authorization"].split()[1] in output  # the banner shows the dev token
    assert code == 0, output[-3000:]
    time.sleep(0.5)
    assert not [p for p in processes if pid_alive(p)], "processes left behind after Ctrl-C"


def test_ctrl_c_during_the_first_training_stops_at_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODSTREAM_")} | {
        "MODSTREAM_DATA_DIR": str(tmp_path),  # no model yet: `up` starts by training one
        "MODSTREAM_API_PORT": str(free_port()),
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    training = wait_for(
        lambda: [p for p in descendants(up.pid) if "train" in cmdline(p)],
        timeout=60, interval=0.1, what="the training step",
    )  # fmt: skip
    up.send_signal(signal.SIGINT)
    output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output.decode()[-2000:]
    assert b"stopped." in output
    assert b"Modstream is up" not in output  # no service was started after the interruption
    time.sleep(0.5)
    assert not [p for p in training if pid_alive(p)], "the training step was left running"
