"""Parts of the stack as subprocesses, for the integration tier: a worker (or another
`modstream` command) to start, kill and restart, and the environment of a `modstream up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from infra.processes import die_with_parent, free_port
from infra.settings import Settings


class Worker:
    """`modstream worker` (or another `command`, with its options) in a subprocess, for tests
    that start, kill and restart it."""

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
            # Its own metrics port: other workers (and stacks) may run beside it.
            "MODSTREAM_METRICS_WORKER_PORT": str(free_port()),
            "MODSTREAM_METRICS_STRIKES_PORT": str(free_port()),
            "MODSTREAM_METRICS_LAG_INTERVAL": "1",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.cli", *self.command.split()],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        return self

    @property
    def metrics_url(self) -> str:
        """Where this worker (or strikes worker) serves its metrics."""
        port = self.env[f"MODSTREAM_METRICS_{self.command.upper()}_PORT"]
        return f"http://127.0.0.1:{port}/metrics"

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
        "MODSTREAM_METRICS_WORKER_PORT": str(free_port()),
        "MODSTREAM_METRICS_STRIKES_PORT": str(free_port()),
    }
    return env, f"http://127.0.0.1:{port}"
