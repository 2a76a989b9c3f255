"""The supervisor of `modstream up`: it restarts what dies, backs off, calls a crash loop by its
name (in the status file that `GET /health` reads), and stops what it started."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path

from api.routes.health import supervised
from infra.processes import pid_alive
from infra.supervisor import CRASH_LOOP, Service, Supervisor
from tests.support.polling import wait_for


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def heal_until(supervisor: Supervisor, done: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.heal()
        if callable(done) and done():
            return
        time.sleep(0.05)
    raise AssertionError("the supervisor did not get there in time")


def test_a_killed_service_is_restarted(tmp_path: Path) -> None:
    supervisor = Supervisor({}, status_file=tmp_path / "services.json")
    child = supervisor.spawn(Service("sleeper", python("import time; time.sleep(60)")))
    try:
        first = child.proc.pid
        os.kill(first, signal.SIGKILL)
        heal_until(supervisor, lambda: child.restarts == 1 and child.proc.poll() is None)
        assert child.proc.pid != first
        assert child.last_exit == -signal.SIGKILL
        status = json.loads((tmp_path / "services.json").read_text())
        assert status["services"]["sleeper"]["state"] == "running"
        assert status["services"]["sleeper"]["restarts"] == 1
        assert supervised(tmp_path / "services.json").ok
    finally:
        supervisor.stop_all(grace=2)
    assert not pid_alive(child.proc.pid)


def test_quick_failures_back_off_and_become_a_crash_loop_in_health(tmp_path: Path) -> None:
    status_file = tmp_path / "services.json"
    supervisor = Supervisor({}, status_file=status_file)
    child = supervisor.spawn(Service("crasher", python("raise SystemExit(3)")))
    try:
        starts: list[float] = []

        def restarted() -> bool:
            if child.restarts > len(starts):
                starts.append(time.monotonic())
            return child.restarts == CRASH_LOOP - 1 and child.proc.poll() is not None

        heal_until(supervisor, restarted, timeout=30)
        heal_until(supervisor, lambda: child.state == "crash-loop")
        assert child.last_exit == 3
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert all(gap >= 1.5 for gap in gaps), gaps  # 1 s, then 2 s: the back-off doubles
        health = supervised(status_file)
        assert not health.ok
        assert "crash loop: crasher" in health.detail
    finally:
        supervisor.stop_all(grace=2)


def test_steps_are_not_restarted_and_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    supervisor = Supervisor({})
    step = supervisor.spawn(Service("step", python("raise SystemExit(0)"), restart=False))
    stubborn = supervisor.spawn(
        Service(
            "stubborn",
            python(
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)"
            ),
            log=tmp_path / "stubborn.log",
        )
    )
    wait_for(lambda: "ready" in (tmp_path / "stubborn.log").read_text(), 10, what="a start")
    step.proc.wait(10)
    supervisor.heal()
    assert step.restarts == 0
    assert step.state == "exited"
    assert supervisor.stop(["stubborn"], grace=1) == ["stubborn"]
    assert not pid_alive(stubborn.proc.pid)


def test_health_ignores_a_status_file_whose_supervisor_is_gone(tmp_path: Path) -> None:
    status_file = tmp_path / "services.json"
    status_file.write_text(
        json.dumps({"supervisor": 2**22 + 1, "services": {"x": {"state": "crash-loop"}}})
    )
    assert supervised(status_file).ok
    assert supervised(tmp_path / "missing.json").detail == "not run by modstream up"
