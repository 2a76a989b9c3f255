"""The X adapter against the local fake X: PKCE, code exchange, refresh rotation, rate limits
honoured (counted at the fake), errors translated; token encryption; the tweet → post mapping;
the settings that guard the token key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from infra.errors import ConfigError, InvalidEvent
from infra.settings import AccountsSettings, Settings, XSettings
from infra.x import TokenCipher, XAuthError, XClient, XError, XRateLimited
from infra.x.client import Tweet
from infra.x.oauth import SCOPES, authorization_url, challenge_of, new_state, new_verifier
from infra.x.tweets import post_event
from tests.support.fake_x import CLIENT_ID, FakeX

KEY = Fernet.generate_key().decode()


def x_settings(fake: FakeX, tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "client_id": CLIENT_ID,
        "api_url": fake.url,
        "authorize_url": f"{fake.url}/i/oauth2/authorize",
        "redirect_uri": "http://127.0.0.1:8000/v1/x/callback",
        "token_key": SecretStr(KEY),
    }
    x = XSettings(**(values | extra))  # type: ignore[arg-type]
    accounts = AccountsSettings(secret_key=SecretStr("test-secret-" + "x" * 40))
    return Settings(env="test", data_dir=tmp_path, accounts=accounts, x=x)


def cipher_of(settings: Settings) -> TokenCipher:
    return TokenCipher.from_settings(settings.x, settings.development_secret)


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as running:
        running.add_user("101", "alice")
        running.approver = "101"
        yield running


async def connect(fake: FakeX, settings: Settings, client: XClient) -> tuple[str, str]:
    """The PKCE flow as an operator's browser and the callback run it: (access, refresh)."""
    state, verifier = new_state(), new_verifier()
    location = fake.authorize(
        authorization_url(settings.x, settings.x_callback_url, state, verifier)
    )
    back = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert back["state"] == state
    tokens = await client.exchange_code(back["code"], verifier, settings.x_callback_url)
    assert tokens.refresh_token
    return tokens.access_token, tokens.refresh_token


def test_pkce_s256_matches_rfc_7636() -> None:
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_of(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert 43 <= len(new_verifier()) <= 128
    assert new_state() != new_state()


def test_authorization_url_asks_for_s256_and_offline_access(fake: FakeX, tmp_path: Path) -> None:
    settings = x_settings(fake, tmp_path)
    url = authorization_url(settings.x, settings.x_callback_url, "the-state", "v" * 64)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{fake.url}/i/oauth2/authorize?")
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == challenge_of("v" * 64)
    assert query["state"] == "the-state"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://127.0.0.1:8000/v1/x/callback"
    assert set(query["scope"].split()) == set(SCOPES)
    assert "offline.access" in query["scope"]


async def test_code_exchange_needs_the_right_verifier(fake: FakeX, tmp_path: Path) -> None:
    settings = x_settings(fake, tmp_path)
    async with XClient(settings.x) as client:
        state, verifier = new_state(), new_verifier()
        location = fake.authorize(
            authorization_url(settings.x, settings.x_callback_url, state, verifier)
        )
        code = parse_qs(urlsplit(location).query)["code"][0]
        with pytest.raises(XAuthError):
            await client.exchange_code(
                code, new_verifier(), settings.x_callback_url
            )  # someone else's verifier
        access, _ = await connect(fake, settings, client)
        assert (await client.me(access)).username == "alice"


async def test_refresh_rotates_the_refresh_token(fake: FakeX, tmp_path: Path) -> None:
    async with XClient(x_settings(fake, tmp_path).x) as client:
        _, refresh = await connect(fake, x_settings(fake, tmp_path), client)
        fresh = await client.refresh(refresh)
        assert fresh.refresh_token
        assert fresh.refresh_token != refresh
        with pytest.raises(XAuthError):
            await client.refresh(refresh)  # spent
        assert (await client.me(fresh.access_token)).id == "101"


async def test_a_confidential_client_authenticates_with_basic(tmp_path: Path) -> None:
    with FakeX(client_secret="s3cret") as fake:
        fake.add_user("101", "alice")
        fake.approver = "101"
        async with XClient(x_settings(fake, tmp_path, client_secret="s3cret").x) as client:
            await connect(fake, x_settings(fake, tmp_path), client)
        async with XClient(x_settings(fake, tmp_path, client_secret="wrong").x) as client:
            with pytest.raises(XAuthError):
                await connect(fake, x_settings(fake, tmp_path), client)


async def test_an_expired_access_token_is_an_auth_error(fake: FakeX, tmp_path: Path) -> None:
    async with XClient(x_settings(fake, tmp_path).x) as client:
        access, _ = await connect(fake, x_settings(fake, tmp_path), client)
        fake.expire_tokens()
        with pytest.raises(XAuthError):
            await client.home_timeline(access, "101")


async def test_timeline_pages_and_since_id(fake: FakeX, tmp_path: Path) -> None:
    ids = [fake.tweet(f"tweet {i}") for i in range(12)]
    async with XClient(x_settings(fake, tmp_path).x) as client:
        access, _ = await connect(fake, x_settings(fake, tmp_path), client)
        first = await client.home_timeline(access, "101", max_results=5)
        assert [int(t.id) for t in first.data] == ids[::-1][:5]  # newest first
        second = await client.home_timeline(
            access, "101", max_results=5, pagination_token=first.meta.next_token
        )
        assert [int(t.id) for t in second.data] == ids[::-1][5:10]
        newer = await client.home_timeline(access, "101", since_id=ids[9], max_results=5)
        assert [int(t.id) for t in newer.data] == [ids[11], ids[10]]
        assert newer.meta.next_token is None
    query = fake.timeline_requests()[-1].query
    assert query["since_id"] == str(ids[9])
    assert {"author_id", "created_at", "lang", "referenced_tweets"} <= set(
        query["tweet.fields"].split(",")
    )


@pytest.mark.parametrize("retry_after", [False, True], ids=["reset-header", "retry-after"])
async def test_a_429_is_waited_out_not_hammered(
    fake: FakeX, tmp_path: Path, retry_after: bool
) -> None:
    fake.tweet("hello")
    async with XClient(x_settings(fake, tmp_path).x) as client:
        access, _ = await connect(fake, x_settings(fake, tmp_path), client)
        fake.throttle(1, reset_in=1.5, retry_after=retry_after)
        started = time.time()
        page = await client.home_timeline(access, "101", max_wait=10)
    assert [t.text for t in page.data] == ["hello"]
    seen = fake.timeline_requests()
    assert [r.status for r in seen] == [429, 200]  # one refusal, one retry: no more
    assert seen[1].at - seen[0].at >= 1.0  # not before the reset
    assert time.time() - started < 5


async def test_a_spent_window_is_not_knocked_on_again(fake: FakeX, tmp_path: Path) -> None:
    fake.tweet("hello")
    fake.window = (2, 30.0)  # two requests per 30 s
    async with XClient(x_settings(fake, tmp_path).x) as client:
        access, _ = await connect(fake, x_settings(fake, tmp_path), client)
        await client.home_timeline(access, "101")
        await client.home_timeline(access, "101")  # remaining: 0
        with pytest.raises(XRateLimited) as limited:
            await client.home_timeline(access, "101", max_wait=5)
    assert limited.value.retry_at > time.time() + 20
    assert len(fake.timeline_requests()) == 2  # the third was never sent


async def test_a_rate_limit_longer_than_allowed_raises_at_once(fake: FakeX, tmp_path: Path) -> None:
    async with XClient(x_settings(fake, tmp_path).x) as client:
        access, _ = await connect(fake, x_settings(fake, tmp_path), client)
        fake.throttle(5, reset_in=60)
        started = time.monotonic()
        with pytest.raises(XRateLimited):
            await client.home_timeline(access, "101", max_wait=1)
    assert time.monotonic() - started < 1
    assert len(fake.timeline_requests()) == 1


async def test_an_unreachable_x_is_an_x_error(tmp_path: Path) -> None:
    with FakeX() as fake:
        url = fake.url
    settings = x_settings(fake, tmp_path, api_url=url)
    async with XClient(settings.x, timeout=2) as client:
        with pytest.raises(XError, match="ConnectError"):
            await client.refresh("anything")


def test_tokens_are_encrypted_and_keys_rotate(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    accounts = AccountsSettings(secret_key=SecretStr("k" * 40))

    def keyed(key: str) -> Settings:
        x = XSettings(client_id="c", token_key=SecretStr(key))
        return Settings(env="test", accounts=accounts, x=x)

    sealed = cipher_of(keyed(old))
    sealed_value = sealed.encrypt("tok-123")
    assert "tok-123" not in sealed_value
    rotated = cipher_of(keyed(f"{new},{old}"))
    assert rotated.decrypt(sealed_value) == "tok-123"
    assert TokenCipher([new.encode()]).decrypt(rotated.encrypt("t")) == "t"  # new key first
    with pytest.raises(ConfigError):
        TokenCipher([new.encode()]).decrypt(sealed_value)


def test_the_token_key_has_no_default_outside_development() -> None:
    accounts = AccountsSettings(secret_key=SecretStr("s" * 40))
    with pytest.raises(ValidationError, match="X_TOKEN_KEY"):
        Settings(env="production", accounts=accounts, x=XSettings(client_id="c"))
    with pytest.raises(ValidationError, match="X_TOKEN_KEY"):
        XSettings(token_key=SecretStr("not-a-fernet-key"))
    development = Settings(env="development", x=XSettings(client_id="c"))
    cipher = cipher_of(development)  # derived from the development secret
    assert cipher.decrypt(cipher.encrypt("t")) == "t"
    unconfigured = Settings(env="test", accounts=accounts)
    unconfigured = unconfigured.model_copy(update={"x": XSettings(client_id="c")})
    with pytest.raises(ConfigError):
        cipher_of(unconfigured)


def _tweet(tweet_id: str, text: str, **kw: object) -> Tweet:
    return Tweet.model_validate({"id": tweet_id, "text": text, "author_id": "42", **kw})


def test_a_reply_becomes_a_post_with_its_parent_as_context() -> None:
    parent = _tweet("10", "the parent")
    quoted = _tweet("11", "a quoted one")
    reply = _tweet(
        "12", "the reply", lang="en", conversation_id="10",
        created_at="2026-11-21T09:30:00Z",
        referenced_tweets=[{"type": "replied_to", "id": "10"}, {"type": "quoted", "id": "11"}],
    )  # fmt: skip
    event = post_event("acme", reply, {"10": parent, "11": quoted})
    assert event.event_id == "x-12"
    assert event.source == "x"
    assert event.partition_key == "acme:42"
    assert event.occurred_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    payload = event.payload
    assert (payload.external_id, payload.author, payload.text) == ("12", "42", "the reply")
    assert (payload.parent_id, payload.thread_id, payload.lang) == ("10", "10", "en")
    assert payload.context == ["the parent", "a quoted one"]


def test_retweets_long_tweets_and_odd_languages() -> None:
    original = _tweet("20", "the full original text", note_tweet={"text": "x" * 1_000})
    retweet = _tweet(
        "21", "RT @someone: the full orig…", lang="qme",
        referenced_tweets=[{"type": "retweeted", "id": "20"}],
    )  # fmt: skip
    event = post_event("acme", retweet, {"20": original})
    assert event.payload.text == "x" * 1_000  # the original's full (note) text
    assert event.payload.parent_id == "20"
    assert event.payload.lang is None  # "qme" (media only) is not a language
    with pytest.raises(InvalidEvent, match="no author"):
        post_event("acme", Tweet.model_validate({"id": "22", "text": "?"}), {})
