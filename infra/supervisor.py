"""Child processes of `modstream up`: started in their own session (so Ctrl-C reaches only the
supervisor, which then stops them in order), tied to the supervisor's life by PR_SET_PDEATHSIG."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.broker import die_with_parent

log = logging.getLogger(__name__)


def modstream_argv(*args: str) -> list[str]:
    """argv that runs a `modstream` subcommand with this interpreter."""
    return [sys.executable, "-m", "infra.cli", *args]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


class Supervisor:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(os.environ) | dict(env)
        self.children: list[Child] = []

    def spawn(self, name: str, argv: Sequence[str]) -> Child:
        proc = subprocess.Popen(  # noqa: S603 - argv built by modstream_argv, no shell
            list(argv),
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        child = Child(name, proc)
        self.children.append(child)
        log.info("started %s (pid %d)", name, proc.pid)
        return child

    def exited(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM newest first, wait up to `grace`, then SIGKILL what is left."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", child.name, grace)
                child.proc.kill()
                child.proc.wait()
        self.children.clear()
