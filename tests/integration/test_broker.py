from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.broker import EmbeddedBroker
from infra.errors import BrokerError
from infra.kafka import broker_reachable, ensure_topics
from infra.processes import pid_alive
from schemas.topics import CATALOGUE


def test_embedded_broker_starts_serves_and_stops(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path).start()
    try:
        assert asyncio.run(broker_reachable(broker.bootstrap))
        asyncio.run(ensure_topics(broker.bootstrap))
        asyncio.run(ensure_topics(broker.bootstrap))  # idempotent
        assert broker.log_path.exists()
        pid = broker.pid() or -1
        store = broker.pid("objects") or -1
    finally:
        broker.stop()
    assert not pid_alive(pid)
    assert not pid_alive(store)
    assert not asyncio.run(broker_reachable(broker.bootstrap, wait=1))


def test_topics_are_created_with_the_catalogue_partitions(broker: EmbeddedBroker) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    async def describe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            topics = await admin.describe_topics([t.name for t in CATALOGUE])
            return {t["topic"]: len(t["partitions"]) for t in topics}
        finally:
            await admin.close()

    assert asyncio.run(describe()) == {t.name: t.partitions for t in CATALOGUE}


def test_a_port_in_use_is_reported_not_hung(tmp_path: Path, broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match="broker"):
        EmbeddedBroker(tmp_path, port=broker.port).start(timeout=5)


def test_a_killed_parent_leaves_no_broker_behind(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from infra.broker import EmbeddedBroker
        b = EmbeddedBroker(Path({str(tmp_path)!r})).start()
        print(b.pid(), b.pid("objects"), flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert all(pid_alive(child) for child in children)
        os.kill(parent.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(pid_alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [child for child in children if pid_alive(child)]
