"""The live verdict feed against the real broker: order, filters, resume, slow subscribers, going
idle while nobody listens, and the SSE and WebSocket endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import TopicPartition
from fastapi.testclient import TestClient

from api.accounts import service
from api.feed import position
from api.feed.hub import FeedClosed, FeedFilter, Subscription, VerdictHub
from infra.accounts import AccountsDB
from infra.broker import EmbeddedBroker
from infra.kafka import end_offsets
from infra.processes import die_with_parent, free_port
from infra.settings import AccountsSettings
from schemas.topics import VERDICTS_TEXT
from tests.support.accounts import as_tenant
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.verdicts import publish, verdict


async def take(sub: Subscription, n: int, timeout: float = 10.0) -> list[str]:
    return [
        json.loads((await asyncio.wait_for(sub.next(), timeout)).value)["event_id"]
        for _ in range(n)
    ]


@pytest.fixture(params=["reading", "idle"])
async def hub(broker: EmbeddedBroker, request: pytest.FixtureRequest) -> AsyncIterator[VerdictHub]:
    """A feed that keeps reading with nobody subscribed (as within `idle_after` of the last
    one leaving), and one that pauses as soon as nobody is: every test holds for both."""
    reading = request.param == "reading"
    running = VerdictHub(broker.bootstrap, capacity=100, idle_after=3600 if reading else 0)
    await running.start()
    if reading:  # woken once, so it follows the topic from here on
        running.unsubscribe(await running.subscribe(FeedFilter(new_tenant())))
    yield running
    await running.stop()


async def topic_end(broker: EmbeddedBroker) -> dict[int, int]:
    """The verdict topic's end offsets, per partition: a position before what comes next."""
    parts = [TopicPartition(VERDICTS_TEXT.name, p) for p in range(VERDICTS_TEXT.partitions)]
    return {tp.partition: end for tp, end in (await end_offsets(broker.bootstrap, parts)).items()}


async def test_in_order_and_resumed_after_a_disconnect(
    hub: VerdictHub, broker: EmbeddedBroker
) -> None:
    tenant = new_tenant()
    sub = await hub.subscribe(FeedFilter(tenant))
    await publish(broker.bootstrap, [verdict(tenant, n) for n in range(5)])
    assert await take(sub, 3) == [f"{tenant}-{n}" for n in range(3)]
    resume = sub.token
    hub.unsubscribe(sub)  # the client goes away after three
    await publish(broker.bootstrap, [verdict(tenant, n) for n in range(5, 8)])
    again = await hub.subscribe(FeedFilter(tenant), position.parse(resume))
    assert await take(again, 5) == [f"{tenant}-{n}" for n in range(3, 8)]
    await publish(broker.bootstrap, [verdict(tenant, 8)])
    assert await take(again, 1) == [f"{tenant}-8"]  # then live again
    hub.unsubscribe(again)


async def test_filters_by_tenant_source_decision_and_label(
    hub: VerdictHub, broker: EmbeddedBroker
) -> None:
    tenant = new_tenant()
    flt = FeedFilter(tenant, sources=frozenset({"chat"}), decisions=frozenset({"reject"}))
    labelled = FeedFilter(tenant, label="insult", min_score=0.5)
    subs = [await hub.subscribe(flt), await hub.subscribe(labelled)]
    await publish(
        broker.bootstrap,
        [
            verdict(new_tenant(), 0, source="chat", toxic=0.9),  # another tenant
            verdict(tenant, 1, source="chat", toxic=0.1),
            verdict(tenant, 2, source="x", toxic=0.9, scores={"toxic": 0.9, "insult": 0.6}),
            verdict(tenant, 3, source="chat", toxic=0.95),
        ],
    )
    assert await take(subs[0], 1) == [f"{tenant}-3"]
    assert await take(subs[1], 1) == [f"{tenant}-2"]
    for sub in subs:
        hub.unsubscribe(sub)


async def test_a_slow_subscriber_is_dropped_without_stalling_others(
    hub: VerdictHub, broker: EmbeddedBroker
) -> None:
    tenant = new_tenant()
    slow = await hub.subscribe(FeedFilter(tenant), capacity=3)
    fast = await hub.subscribe(FeedFilter(tenant))
    expected = [f"{tenant}-{n}" for n in range(10)]
    await publish(broker.bootstrap, [verdict(tenant, n) for n in range(10)])
    assert await take(fast, 10) == expected  # never waits for the slow one
    assert await take(slow, 3) == expected[:3]  # what it had buffered, then the reason
    with pytest.raises(FeedClosed) as closed:
        await asyncio.wait_for(slow.next(), 5)
    assert "too slow" in closed.value.reason
    assert hub.subscribers == 1
    resumed = await hub.subscribe(FeedFilter(tenant), position.parse(closed.value.position))
    assert await take(resumed, 7) == expected[3:]
    for sub in (fast, resumed):
        hub.unsubscribe(sub)


async def consumed(hub: VerdictHub, before: dict[int, int], count: int) -> None:
    """Wait until `count` more records are history, not live: read by a reading hub (an idle
    one starts from the end when woken)."""
    async with asyncio.timeout(10):
        while not hub.idle and sum(hub.positions.values()) - sum(before.values()) < count:
            await asyncio.sleep(0.01)


async def test_a_backlog_larger_than_capacity_continues_on_reconnect(
    hub: VerdictHub, broker: EmbeddedBroker
) -> None:
    tenant = new_tenant()
    before = await topic_end(broker)
    await publish(broker.bootstrap, [verdict(tenant, n) for n in range(5)])
    await consumed(hub, before, 5)
    first = await hub.subscribe(FeedFilter(tenant), before, capacity=3)
    assert await take(first, 3) == [f"{tenant}-{n}" for n in range(3)]
    with pytest.raises(FeedClosed) as closed:
        await asyncio.wait_for(first.next(), 5)
    assert "backlog continues" in closed.value.reason
    hub.unsubscribe(first)
    rest = await hub.subscribe(FeedFilter(tenant), position.parse(closed.value.position))
    assert await take(rest, 2) == [f"{tenant}-3", f"{tenant}-4"]
    hub.unsubscribe(rest)


async def test_starts_from_a_time(hub: VerdictHub, broker: EmbeddedBroker) -> None:
    tenant = new_tenant()
    since = datetime.now(UTC) - timedelta(seconds=1)
    before = await topic_end(broker)
    await publish(broker.bootstrap, [verdict(tenant, n) for n in range(3)])
    await consumed(hub, before, 3)
    sub = await hub.subscribe(FeedFilter(tenant), since)
    assert await take(sub, 3) == [f"{tenant}-{n}" for n in range(3)]
    hub.unsubscribe(sub)


def idle(hub: VerdictHub) -> bool:
    """Whether it is paused now (a call: a type checker keeps no earlier answer of it)."""
    return hub.idle


async def test_an_idle_feed_reads_nothing_and_wakes_at_the_end(broker: EmbeddedBroker) -> None:
    hub = VerdictHub(broker.bootstrap, capacity=100, idle_after=0)
    await hub.start()
    try:
        tenant = new_tenant()
        assert idle(hub)  # nobody subscribed yet: nothing is read
        await publish(broker.bootstrap, [verdict(tenant, n) for n in range(3)])
        sub = await hub.subscribe(FeedFilter(tenant))  # `now`: after the three
        assert not idle(hub)
        await publish(broker.bootstrap, [verdict(tenant, 3)])
        assert await take(sub, 1) == [f"{tenant}-3"]
        resume = sub.token
        hub.unsubscribe(sub)
        async with asyncio.timeout(10):  # the reading loop pauses once nobody listens
            while not idle(hub):
                await asyncio.sleep(0.01)
        stale = dict(hub.positions)
        await publish(broker.bootstrap, [verdict(tenant, n) for n in range(4, 6)])
        await asyncio.sleep(0.3)  # fifteen fetch waits: a reading feed would have moved
        assert hub.positions == stale
        again = await hub.subscribe(FeedFilter(tenant), position.parse(resume))
        await publish(broker.bootstrap, [verdict(tenant, 6)])
        assert await take(again, 3) == [f"{tenant}-{n}" for n in range(4, 7)]
        hub.unsubscribe(again)
    finally:
        await hub.stop()


def test_websocket_twin(api: TestClient, broker: EmbeddedBroker) -> None:
    tenant = new_tenant()
    with api.websocket_connect(
        "/v1/verdicts/ws?decision=reject", headers=as_tenant(api, tenant)
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
        asyncio.run(publish(broker.bootstrap, [verdict(tenant, 1), verdict(tenant, 2, toxic=0.9)]))
        message = ws.receive_json()
        assert message["type"] == "verdict"
        assert message["verdict"]["event_id"] == f"{tenant}-2"
        assert position.parse(message["position"])


@pytest.mark.parametrize("scopes", [("read",), ("read", "private")])
def test_chat_messages_reach_only_a_subscriber_with_the_private_scope(
    api: TestClient, broker: EmbeddedBroker, scopes: tuple[str, ...]
) -> None:
    tenant = new_tenant()
    chat = verdict(tenant, 1, source="chat", kind="chat_message", toxic=0.9)
    with api.websocket_connect(
        "/v1/verdicts/ws?decision=reject", headers=as_tenant(api, tenant, scopes)
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
        asyncio.run(publish(broker.bootstrap, [chat, verdict(tenant, 2, toxic=0.9)]))
        first = ws.receive_json()["verdict"]["event_id"]
    assert first == (f"{tenant}-1" if "private" in scopes else f"{tenant}-2")
    # A subscription that may receive chat messages is a private read, audited once.
    audit = api.get("/v1/audit", params={"action": "private.read"}, headers=as_tenant(api, tenant))
    entries = [(e["target"], json.loads(e["detail"])) for e in audit.json()]
    expected = {"decisions": ["reject"], "label": None, "min_score": 0.5, "since": "now",
                "sources": []}  # fmt: skip
    assert entries == ([("verdicts:ws", expected)] if "private" in scopes else [])


def test_sse_rejects_a_bad_position(api: TestClient) -> None:
    response = api.get("/v1/verdicts/stream", params={"since": "tomorrow-ish"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_position"


@dataclass
class Served:
    url: str
    tenant: str
    headers: dict[str, str]
    private: dict[str, str]
    """A token with the `private` (and `admin`, to read the audit log) scope."""


@pytest.fixture(scope="module")
def server(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`modstream serve` in its own process (its own chdb path and accounts store): SSE over
    real HTTP, with a tenant and token made in its accounts store as `modstream admin` would."""
    port = free_port()
    data = tmp_path_factory.mktemp("serve")
    tenant = new_tenant()
    accounts = AccountsDB(f"sqlite:///{data}/accounts.db")
    accounts.create_schema()
    with accounts.session() as session:
        found = service.create_tenant(session, tenant)
        _, secret = service.create_token(
            session, AccountsSettings(), found, name="sse", scopes=frozenset({"read"}),
            user_id=None, expires_at=None, actor="tests", ctx=service.CLI,
        )  # fmt: skip
        _, private = service.create_token(
            session, AccountsSettings(), found, name="private",
            scopes=frozenset({"read", "private", "admin"}), user_id=None, expires_at=None,
            actor="tests", ctx=service.CLI,
        )  # fmt: skip
    accounts.close()
    env = os.environ | {
        "MODSTREAM_KAFKA_BOOTSTRAP": broker.bootstrap,
        "MODSTREAM_DATA_DIR": str(data),
        "MODSTREAM_API_PORT": str(port),
        "MODSTREAM_LOG_LEVEL": "WARNING",
    }
    log = Path(data) / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "serve", "--no-sink"],
            env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None and pytest.fail(log.read_text())

    wait_for(up, timeout=60, what="modstream serve")
    yield Served(
        url, tenant, {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Bearer {private}"}
    )
    proc.terminate()
    proc.wait(10)


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if "event" in event:  # not the `retry:` preamble
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value


async def test_sse_in_order_and_resumes_with_last_event_id(
    server: Served, broker: EmbeddedBroker
) -> None:
    tenant = server.tenant
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        anonymous = await client.get("/v1/verdicts/stream")
        assert anonymous.status_code == 401
        async with client.stream("GET", "/v1/verdicts/stream", headers=server.headers) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            ready = await anext(events)
            assert ready["event"] == "ready"
            await publish(broker.bootstrap, [verdict(tenant, n) for n in range(6)])
            got = [await anext(events) for _ in range(3)]
        assert [json.loads(e["data"])["event_id"] for e in got] == [
            f"{tenant}-{n}" for n in range(3)
        ]
        last_id = got[-1]["id"]  # disconnected after three; three more are on the topic
        await publish(broker.bootstrap, [verdict(tenant, 6)])
        async with client.stream(
            "GET", "/v1/verdicts/stream",
            headers=server.headers | {"Last-Event-ID": last_id},
        ) as response:  # fmt: skip
            events = sse_events(response)
            assert (await anext(events))["event"] == "ready"
            rest = [json.loads((await anext(events))["data"])["event_id"] for _ in range(4)]
        assert rest == [f"{tenant}-{n}" for n in range(3, 7)]


async def test_sse_subscriptions_to_chat_messages_are_audited_once(
    server: Served, broker: EmbeddedBroker
) -> None:
    tenant = server.tenant
    chat = verdict(tenant, 900, source="chat", kind="chat_message", toxic=0.9)
    params = {"source": "chat", "decision": "reject"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream(
            "GET", "/v1/verdicts/stream", params=params, headers=server.private
        ) as response:
            events = sse_events(response)
            assert (await anext(events))["event"] == "ready"
            await publish(
                broker.bootstrap,
                [chat, verdict(tenant, 901, source="chat", kind="chat_message", toxic=0.95)],
            )
            got = [json.loads((await anext(events))["data"])["event_id"] for _ in range(2)]
        assert got == [f"{tenant}-900", f"{tenant}-901"]
        async with client.stream("GET", "/v1/verdicts/stream", headers=server.headers) as plain:
            assert (await anext(sse_events(plain)))["event"] == "ready"  # no private scope
        audit = await client.get(
            "/v1/audit", params={"action": "private.read"}, headers=server.private
        )
    [entry] = audit.json()  # one per subscription, not one per message; none without the scope
    assert (entry["target"], entry["client"]) == ("verdicts:stream", "127.0.0.1")
    assert entry["actor"].startswith("token:")
    assert json.loads(entry["detail"]) == {
        "decisions": ["reject"], "label": None, "min_score": 0.5, "since": "now",
        "sources": ["chat"],
    }  # fmt: skip
