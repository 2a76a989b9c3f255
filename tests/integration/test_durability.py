"""Accepted means judged: every service of the embedded stack, the broker and its object store
included, SIGKILLed under load, and not one accepted event without its verdict; `modstream up`
ended in every way a user ends it, and no process left behind; strike counts that outlive a
broker restart; end offsets that a replay to the end can trust."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi.testclient import TestClient

from infra.bench.chaos import TARGETS, run_chaos
from infra.broker import EmbeddedBroker
from infra.kafka import Publisher, end_offsets, ensure_topics
from infra.processes import descendants, pid_alive
from infra.settings import Settings
from schemas.events import Kind
from schemas.records import Decision, Verdict
from schemas.topics import AUTHOR_BLOCKS, AUTHOR_STRIKES, VERDICTS_TEXT
from tests.support.polling import wait_for
from tests.support.stack import Worker, up_env


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


def _verdict(author: str, i: int) -> Verdict:
    now = datetime.now(UTC)
    return Verdict(
        event_id=f"{author}-{i}", tenant="demo", source="chat", kind=Kind.CHAT_MESSAGE,
        item_id=f"{author}-{i}", author=author, occurred_at=now, judged_at=now,
        decision=Decision.REJECT, toxic=0.95, lang="en", model_version="m",
        policy_version="p", latency_ms=1.0,
    )  # fmt: skip


def _read(bootstrap: str, topic: str, author: str) -> list[dict[str, object]]:
    async def run() -> list[dict[str, object]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            group_id=f"reader-{uuid.uuid4().hex}", fetch_max_wait_ms=100,
        )  # fmt: skip
        await consumer.start()
        try:
            found: list[dict[str, object]] = []
            for _ in range(8):
                batch = await consumer.getmany(timeout_ms=500)
                found += [json.loads(r.value or b"{}") for rs in batch.values() for r in rs]
            return [r for r in found if r.get("author") == author]
        finally:
            await consumer.stop()

    return asyncio.run(run())


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path / "broker").start()
    asyncio.run(ensure_topics(broker.bootstrap))
    yield broker
    broker.stop()


def test_strike_counts_survive_a_sigkill_of_the_broker_and_its_store(
    durable_broker: EmbeddedBroker, settings: Settings, model_dir: Path, tmp_path: Path
) -> None:
    broker = durable_broker
    local = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
    strikes = Worker(local, model_dir, tmp_path / "strikes.log", command="strikes").start()
    author = f"durable-{uuid.uuid4().hex[:8]}"

    async def publish(first: int, last: int) -> None:
        async with Publisher(broker.bootstrap) as publisher:
            for i in range(first, last):  # one at a time: strikes are counted in order
                verdict = _verdict(author, i)
                await publisher.publish_many(
                    VERDICTS_TEXT.name,
                    [(verdict.partition_key, verdict.model_dump_json().encode())],
                )

    def strike_counts() -> list[object]:
        return sorted({r["strikes"] for r in _read(broker.bootstrap, AUTHOR_STRIKES.name, author)})  # type: ignore[type-var]

    try:
        asyncio.run(publish(0, 4))
        wait_for(lambda: strike_counts() == [1, 2, 3, 4], 120, what="four strikes")
        time.sleep(2)  # past the strikes worker's commit interval
        for name in ("broker", "objects"):
            pid = broker.pid(name)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        strikes.kill()
        broker.stop()
        broker.start()  # same folder: same ports, same data
        strikes.start()
        asyncio.run(publish(4, 5))
        wait_for(lambda: 5 in strike_counts(), 180, what="the fifth strike, counted on from four")
        blocks = _read(broker.bootstrap, AUTHOR_BLOCKS.name, author)
        assert [b["action"] for b in blocks] == ["block"]
        assert blocks[0]["strikes"] == 5
    finally:
        strikes.stop()


def test_end_offsets_count_every_record_whatever_the_batches(
    durable_broker: EmbeddedBroker,
) -> None:
    """Single-record batches from separate producers, then one multi-record batch: the end
    offset is the number of records each time (ListOffsets alone said 1, then 5, of 4 and 9)."""
    tp = TopicPartition(AUTHOR_STRIKES.name, 0)

    async def produce(n: int, batch: int) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=durable_broker.bootstrap,
                                    max_batch_size=batch, linger_ms=20)  # fmt: skip
        await producer.start()
        try:
            sent = [await producer.send(tp.topic, b"x", key=b"k", partition=0) for _ in range(n)]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def run() -> list[int]:
        ends = []
        for _ in range(4):
            await produce(1, 1)
        ends.append((await end_offsets(durable_broker.bootstrap, [tp]))[tp])
        await produce(5, 16_384)
        ends.append((await end_offsets(durable_broker.bootstrap, [tp]))[tp])
        return ends

    assert asyncio.run(run()) == [4, 9]
