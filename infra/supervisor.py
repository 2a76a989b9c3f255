"""Runs the services of `modstream up` and heals them, as compose's `restart: always` does.

Each service is a child process in its own session (so Ctrl-C reaches only the supervisor, which
stops them in order), SIGKILLed by the kernel if the supervisor dies. A service that exits is
started again after a back-off that doubles with each quick failure (1 s … 30 s) and resets once
it has stayed up for a minute. Three failures within a minute are a crash loop: logged as an
error and shown in the status file that `GET /health` reads. Steps (training, bootstrap) run once
and are never restarted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from infra.processes import die_with_parent, reap_orphans

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds up after which a service's failures are forgotten
CRASH_LOOP = 3  # failures within STABLE_AFTER

State = Literal["running", "restarting", "crash-loop", "stopped", "exited"]


def modstream_argv(*args: str) -> list[str]:
    """argv that runs a `modstream` subcommand with this interpreter."""
    return [sys.executable, "-m", "infra.cli", *args]


@dataclass(frozen=True)
class Service:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    log: Path | None = None  # stdout and stderr appended here; else inherited
    restart: bool = True


@dataclass
class Child:
    service: Service
    proc: subprocess.Popen[bytes]
    started: float
    restarts: int = 0
    failures: list[float] = field(default_factory=list)
    restart_at: float | None = None  # a restart is due then
    last_exit: int | None = None

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def state(self) -> State:
        if self.restart_at is not None:
            return "crash-loop" if len(self.failures) >= CRASH_LOOP else "restarting"
        if self.proc.poll() is None:
            return "running"
        return "exited" if self.service.restart is False else "stopped"


class Supervisor:
    def __init__(
        self, env: Mapping[str, str], status_file: Path | None = None, *, reaper: bool = False
    ) -> None:
        """`reaper`: this process is a subreaper whose every child is a service of this
        supervisor (`modstream up`), so any other child is an orphan to kill and reap."""
        self.env = dict(os.environ) | dict(env)
        self.status_file = status_file
        self.reaper = reaper
        self.children: list[Child] = []
        self._stopping = False

    def spawn(self, service: Service) -> Child:
        child = Child(service, self._popen(service), time.monotonic())
        self.children.append(child)
        log.info("started %s (pid %d)", service.name, child.proc.pid)
        self.write_status()
        return child

    def _popen(self, service: Service) -> subprocess.Popen[bytes]:
        out: IO[bytes] | None = None
        if service.log is not None:
            service.log.parent.mkdir(parents=True, exist_ok=True)
            out = service.log.open("ab")
        try:
            return subprocess.Popen(  # noqa: S603 - argv built by the caller, no shell
                list(service.argv),
                env=self.env | dict(service.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not None:
                out.close()

    def get(self, name: str) -> Child | None:
        return next((c for c in self.children if c.name == name), None)

    def exited(self) -> Child | None:
        """The first child that has exited, if any (for callers that do not heal)."""
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def heal(self) -> None:
        """Notice exits and restart what is due; call it often (the main loop does)."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            if not child.service.restart or self._stopping:
                continue
            if child.restart_at is None and child.proc.poll() is not None:
                changed = True
                self._failed(child, now)
            elif child.restart_at is not None and now >= child.restart_at:
                changed = True
                child.proc = self._popen(child.service)
                child.started, child.restart_at = now, None
                child.restarts += 1
                log.warning("restarted %s (pid %d)", child.name, child.proc.pid)
        if changed:
            if self.reaper:
                reap_orphans({c.proc.pid for c in self.children})
            self.write_status()

    def _failed(self, child: Child, now: float) -> None:
        child.last_exit = child.proc.returncode
        if now - child.started >= STABLE_AFTER:
            child.failures.clear()
        child.failures = [t for t in child.failures if now - t < STABLE_AFTER] + [now]
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (len(child.failures) - 1))
        child.restart_at = now + delay
        level = logging.ERROR if len(child.failures) >= CRASH_LOOP else logging.WARNING
        log.log(
            level,
            "%s exited with code %s%s; restarting in %.0fs",
            child.name, child.last_exit,
            " (crash loop)" if len(child.failures) >= CRASH_LOOP else "", delay,
        )  # fmt: skip

    def status(self) -> dict[str, dict[str, object]]:
        return {
            c.name: {
                "state": c.state,
                "pid": c.proc.pid,
                "restarts": c.restarts,
                "last_exit": c.last_exit,
                "recent_failures": len(c.failures),
            }
            for c in self.children
            if c.service.restart
        }

    def write_status(self) -> None:
        """The services' states, for `GET /health` (written atomically)."""
        if self.status_file is None:
            return
        doc = {"supervisor": os.getpid(), "at": time.time(), "services": self.status()}
        tmp = self.status_file.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(doc))
            tmp.replace(self.status_file)

    def signal(self, names: Iterable[str], sig: int) -> None:
        for child in self.children:
            if child.name in names and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(sig)

    def stop(self, names: Iterable[str], grace: float) -> list[str]:
        """SIGTERM these services, wait up to `grace`, SIGKILL what is left; no restarts from
        now on. Returns the names that had to be killed."""
        self._stopping = True
        chosen = [c for name in names for c in self.children if c.name == name]
        self.signal([c.name for c in chosen], signal.SIGTERM)
        deadline = time.monotonic() + grace
        killed = []
        for child in chosen:
            try:
                child.proc.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", child.name, grace)
                killed.append(child.name)
                child.proc.kill()
                child.proc.wait()
            child.restart_at = None
        self.write_status()
        return killed

    def stop_all(self, grace: float = 10.0) -> list[str]:
        """Stop every service, newest first."""
        return self.stop([c.name for c in reversed(self.children)], grace)

    def forget(self, child: Child) -> None:
        self.children.remove(child)
