"""`modstream bench chat` for a few seconds at a low rate, against the gateway served by uvicorn
on a loopback port and the real worker: every message sent is accounted for exactly once. Its
figures are printed by the command, never asserted here."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from infra.accounts import AccountsDB
from infra.processes import free_port
from infra.settings import Settings
from producers.bench.chat import make_users, run_bench
from producers.chat.gateway import ChatGateway
from tests.support.polling import wait_for
from tests.support.stack import Worker


@pytest.fixture(scope="module")
def gateway_url(settings: Settings, api: TestClient, worker: Worker) -> Iterator[str]:
    port = free_port()
    gateway = ChatGateway(
        settings.chat,
        settings.accounts,
        settings.kafka_bootstrap or "",
        AccountsDB(settings.accounts_db_url),
    )
    server = uvicorn.Server(
        uvicorn.Config(gateway.asgi, host="127.0.0.1", port=port, log_level="warning",
                       ws="wsproto")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, what="the chat gateway")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


async def test_every_message_sent_is_accounted_for(gateway_url: str, settings: Settings) -> None:
    accounts = AccountsDB(settings.accounts_db_url)
    users = make_users(accounts, settings.accounts, 4)
    # The worker may still be loading its model: a first exchange that waits for it.
    warm = await run_bench(gateway_url, users, rate=4, seconds=1, drain=90)
    assert warm.lost == 0

    result = await run_bench(
        gateway_url, users, rate=10, seconds=3, toxic_share=0.5, drain=30, seed=3
    )
    assert result.sent == 30
    assert result.delivered + result.withheld + result.refused + result.lost == result.sent
    assert result.lost == 0
    assert result.refused == 0
    assert result.duplicates == 0
    assert result.withheld > 0  # the insulting half is rejected, and withheld by default
    assert result.delivered > 0
    assert len(result.latencies_ms) == result.delivered
    assert all(ms > 0 for ms in result.latencies_ms)
    senders = {m.sender for m in result.messages.values()}
    assert senders == {0, 1, 2, 3}
    accounts.close()


async def test_a_refused_message_is_counted_as_refused(
    gateway_url: str, settings: Settings
) -> None:
    accounts = AccountsDB(settings.accounts_db_url)
    users = make_users(accounts, settings.accounts, 2)
    ghost = ("nobody@bench.invalid", users[1][1])  # a receiver the tenant does not have
    result = await run_bench(gateway_url, [users[0], ghost], rate=5, seconds=1, drain=60)
    assert result.sent == 5
    assert result.refused == 3  # messages 0, 2, 4 go from user 0 to the unknown receiver
    assert result.delivered + result.withheld + result.refused + result.lost == result.sent
    accounts.close()
