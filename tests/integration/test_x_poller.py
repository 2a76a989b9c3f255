"""The X poller against the fake X and the real embedded broker: pagination and since-id
checkpoints, no re-publication across restarts, refresh before expiry and after a 401, 429s
waited out or skipped until the reset (requests counted at the fake), refused grants, and what
lands on `events.text`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text, update

from infra.accounts import AccountsDB
from infra.accounts.models import XAccount
from infra.broker import EmbeddedBroker
from infra.kafka import Publisher
from infra.settings import AccountsSettings, Settings, XSettings
from infra.x import TokenCipher, XAccounts, XClient, XPoll
from infra.x.oauth import authorization_url, new_state, new_verifier
from infra.x.poll import encrypt_tokens
from producers.x.poller import XPoller
from schemas.topics import EVENTS_TEXT
from tests.support.fake_x import CLIENT_ID, FakeX

KEY = Fernet.generate_key().decode()


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as running:
        running.add_user("101", "alice")
        running.add_user("202", "bob")
        yield running


def x_settings(fake: FakeX, broker: EmbeddedBroker, tmp_path: Path, **extra: Any) -> Settings:
    """Settings with X pointing at the fake; `extra` sets fields of the X section."""
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "api_url": fake.url,
        "authorize_url": f"{fake.url}/i/oauth2/authorize",
        "token_key": SecretStr(KEY),
        "page_size": 5,
        "poll_interval": 1.0,
    }
    return Settings(
        env="test",
        data_dir=tmp_path,
        kafka_bootstrap=broker.bootstrap,
        accounts=AccountsSettings(secret_key=SecretStr("test-secret-" + "x" * 40)),
        x=XSettings(**(values | extra)),
    )


def cipher_of(settings: Settings) -> TokenCipher:
    return TokenCipher.from_settings(settings.x, settings.development_secret)


def poller(settings: Settings, db: AccountsDB, bootstrap: str) -> XPoller:
    return XPoller(settings.x, db, bootstrap, cipher_of(settings))


async def connect(fake: FakeX, settings: Settings, db: AccountsDB, tenant: str, user: str) -> int:
    """Connect `user` for `tenant` through the real PKCE flow, stored as the callback does."""
    fake.approver = user
    state, verifier = new_state(), new_verifier()
    location = fake.authorize(
        authorization_url(settings.x, settings.x_callback_url, state, verifier)
    )
    code = parse_qs(urlsplit(location).query)["code"][0]
    async with XClient(settings.x) as client:
        tokens = await client.exchange_code(code, verifier, settings.x_callback_url)
        me = await client.me(tokens.access_token)
    cipher = cipher_of(settings)
    account, _ = XAccounts(db).connect(tenant, me, encrypt_tokens(cipher, tokens), "tests")
    return account.id


class Tap:
    """Reads `events.text` from its current end: what the poller publishes from now on."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def __aenter__(self) -> Tap:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(EVENTS_TEXT.name) or set()
        tps = [TopicPartition(EVENTS_TEXT.name, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)  # pin the end now, not at the first fetch
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read(self, tenant: str, *, want: int | None = None, seconds: float = 10) -> list[Any]:
        """Events of `tenant`, until `want` arrived or `seconds` passed."""
        found: list[Any] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (want is None or len(found) < want):
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["tenant"] == tenant:
                        found.append(event)
        return found


def account_row(db: AccountsDB, account_id: int) -> XAccount:
    found = XAccounts(db).get(account_id)
    assert found is not None
    return found


def set_columns(db: AccountsDB, account_id: int, **values: Any) -> None:
    with db.session() as session:
        session.execute(update(XAccount).where(XAccount.id == account_id).values(**values))


async def test_pages_since_id_and_no_republication_across_restarts(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    account = await connect(fake, settings, db, "xp-pages", "101")
    first = [fake.tweet(f"first batch {i}", author=f"90{i % 3}") for i in range(12)]
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        events = await tap.read("xp-pages", want=12)
        assert sorted(e["event_id"] for e in events) == sorted(f"x-{i}" for i in first)
        assert {e["source"] for e in events} == {"x"}
        requests = fake.timeline_requests()
        assert [len(r.query.get("pagination_token", "")) > 0 for r in requests] == [
            False, True, True,
        ]  # fmt: skip  # 5 + 5 + 2
        assert "since_id" not in requests[0].query
        assert account_row(db, account).since_id == first[-1]
        assert account_row(db, account).published == 12

        later = [fake.tweet(f"second batch {i}") for i in range(3)]
        await poller(settings, db, broker.bootstrap).run(rounds=1)  # a restarted poller
        events = await tap.read("xp-pages", seconds=3)
        assert [e["event_id"] for e in events] == [f"x-{i}" for i in later]  # oldest first
        assert fake.timeline_requests()[-1].query["since_id"] == str(first[-1])

        await poller(settings, db, broker.bootstrap).run(rounds=1)  # nothing new
        assert await tap.read("xp-pages", seconds=2) == []
    assert account_row(db, account).since_id == later[-1]
    assert len(fake.timeline_requests()) == 5


async def test_tweets_become_posts_with_context(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    await connect(fake, settings, db, "xp-context", "101")
    parent = fake.tweet("is this any good?", author="500", home_of=[])  # not on the timeline
    reply = fake.tweet("you are an idiot", author="501", reply_to=parent, lang="en")
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        [event] = await tap.read("xp-context", want=1)
    assert event["event_id"] == f"x-{reply}"
    assert event["kind"] == "post"
    assert event["payload"] == {
        "external_id": str(reply), "author": "501", "text": "you are an idiot", "lang": "en",
        "parent_id": str(parent), "thread_id": str(parent), "context": ["is this any good?"],
    }  # fmt: skip


async def test_a_token_about_to_expire_is_refreshed_first(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path, refresh_margin=300)
    account = await connect(fake, settings, db, "xp-refresh", "101")
    before = account_row(db, account)
    set_columns(db, account, expires_at=datetime.now(UTC) + timedelta(seconds=60))
    fake.tweet("hello")
    await poller(settings, db, broker.bootstrap).run(rounds=1)
    assert fake.refreshes == 1
    assert [r.status for r in fake.timeline_requests()] == [200]  # no 401 on the way
    after = account_row(db, account)
    assert after.token_version == before.token_version + 1
    assert after.expires_at > datetime.now(UTC) + timedelta(minutes=100)
    cipher = cipher_of(settings)
    access = cipher.decrypt(after.access_token)
    assert access != cipher.decrypt(before.access_token)
    assert fake.access[access][0] == "101"  # the token X issued is the one stored
    with db.session() as session:  # stored encrypted: the raw row holds no token
        raw = session.execute(
            text("SELECT access_token, refresh_token FROM x_accounts WHERE id = :id"),
            {"id": account},
        ).one()
    assert access not in raw[0]
    assert raw[1]
    assert not any(t in raw[1] for t in fake.refresh_tokens)


async def test_a_refused_access_token_is_refreshed_once_and_the_poll_goes_on(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    await connect(fake, settings, db, "xp-expired", "101")
    tweet = fake.tweet("after expiry")
    fake.expire_tokens()
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        events = await tap.read("xp-expired", want=1)
    assert [e["event_id"] for e in events] == [f"x-{tweet}"]
    assert [r.status for r in fake.timeline_requests()] == [401, 200]
    assert fake.refreshes == 1


async def test_a_429_is_waited_out_within_the_poll(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path, max_wait=10)
    await connect(fake, settings, db, "xp-429", "101")
    [fake.tweet(f"t{i}") for i in range(7)]
    fake.throttle(1, reset_in=1.5)
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        assert len(await tap.read("xp-429", want=7)) == 7
    seen = fake.timeline_requests()
    assert [r.status for r in seen] == [429, 200, 200]
    assert seen[1].at - seen[0].at >= 1.0


async def test_a_long_rate_limit_skips_the_account_until_its_reset(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path, max_wait=0)
    account = await connect(fake, settings, db, "xp-skip", "101")
    tweet = fake.tweet("wait for it")
    fake.throttle(1, reset_in=3)
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        row = account_row(db, account)
        assert row.rate_limited_until is not None
        assert row.rate_limited_until > datetime.now(UTC) + timedelta(seconds=1)
        assert row.failures == 0  # a rate limit is not a failure
        assert row.last_error
        assert "rate limited" in row.last_error
        assert row.status == "active"
        await poller(settings, db, broker.bootstrap).run(rounds=2)  # restarted, still waiting
        assert len(fake.timeline_requests()) == 1  # never knocked on before the reset
        assert await tap.read("xp-skip", seconds=1) == []
        await asyncio.sleep((row.rate_limited_until - datetime.now(UTC)).total_seconds() + 0.2)
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        assert [e["event_id"] for e in await tap.read("xp-skip", want=1)] == [f"x-{tweet}"]
    assert account_row(db, account).rate_limited_until is None


async def test_a_refused_grant_asks_for_reauthorization(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    account = await connect(fake, settings, db, "xp-revoked", "101")
    fake.expire_tokens()
    fake.refresh_tokens.clear()  # the user revoked the app at X
    await poller(settings, db, broker.bootstrap).run(rounds=1)
    row = account_row(db, account)
    assert row.status == "reauthorize"
    assert row.last_error
    assert "refused" in row.last_error
    requests = len(fake.requests)
    await poller(settings, db, broker.bootstrap).run(rounds=2)
    assert len(fake.requests) == requests  # not polled again until connected again


async def test_when_two_processes_refresh_at_once_both_end_with_the_live_token(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    """X rotates refresh tokens, so the second refresh with the same token is refused: the
    loser must take the winner's tokens from the store, not give up on the account."""
    settings = x_settings(fake, broker, tmp_path)
    account = await connect(fake, settings, db, "xp-race", "101")
    stale = account_row(db, account)
    cipher, store = cipher_of(settings), XAccounts(db)
    async with Publisher(broker.bootstrap) as publisher, XClient(settings.x) as client:
        first = XPoll(settings.x, store, client, publisher, cipher)
        second = XPoll(settings.x, store, client, publisher, cipher)
        winner = await first.access_token(stale, max_wait=0, force=True)
        loser = await second.access_token(stale, max_wait=0, force=True)
    assert loser == winner
    assert fake.refreshes == 1
    assert account_row(db, account).status == "active"


async def test_an_unreachable_x_backs_off(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path, poll_interval=30)
    account = await connect(fake, settings, db, "xp-down", "101")
    fake.__exit__()
    await poller(settings, db, broker.bootstrap).run(rounds=1)
    row = account_row(db, account)
    assert row.failures == 1
    assert row.status == "active"
    assert row.next_poll_at is not None
    wait = (row.next_poll_at - datetime.now(UTC)).total_seconds()
    assert 50 < wait <= 60  # interval x 2 after the first failure
    assert XAccounts(db).due(datetime.now(UTC)) == []


async def test_each_tenant_gets_only_its_accounts_timeline(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    await connect(fake, settings, db, "xp-tenant-a", "101")
    await connect(fake, settings, db, "xp-tenant-b", "202")
    for_alice = fake.tweet("only on alice's timeline", home_of=["101"])
    for_bob = fake.tweet("only on bob's timeline", home_of=["202"])
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        events = await tap.read("xp-tenant-a", seconds=3)
    assert [e["event_id"] for e in events] == [f"x-{for_alice}"]
    assert f"x-{for_bob}" not in [e["event_id"] for e in events]


async def test_an_account_sealed_with_a_removed_key_does_not_stop_the_others(
    fake: FakeX, broker: EmbeddedBroker, db: AccountsDB, tmp_path: Path
) -> None:
    settings = x_settings(fake, broker, tmp_path)
    other_key = x_settings(
        fake, broker, tmp_path, token_key=SecretStr(Fernet.generate_key().decode())
    )
    await connect(fake, settings, db, "xp-key-ok", "101")
    lost = await connect(fake, other_key, db, "xp-key-lost", "202")
    tweet = fake.tweet("still polled", home_of=["101", "202"])
    async with Tap(broker.bootstrap) as tap:
        await poller(settings, db, broker.bootstrap).run(rounds=1)
        assert [e["event_id"] for e in await tap.read("xp-key-ok", want=1)] == [f"x-{tweet}"]
    row = account_row(db, lost)
    assert row.failures == 1
    assert row.last_error is not None
    assert "MODSTREAM_X_TOKEN_KEY" in row.last_error
