"""Login tokens (JWT): issued on login, refused when tampered, expired, unsigned (`alg=none`),
signed with another key or for another issuer or audience. Lockout and rate limits on logins,
Argon2id password hashes, and settings that refuse unsafe secrets outside development."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.accounts import security, service
from api.accounts.limits import LoginLimiter
from infra.accounts.models import User
from infra.errors import ConfigError
from infra.settings import DEV_SECRET, AccountsSettings, Settings, get_settings
from tests.support.accounts import PASSWORD, anonymous, as_tenant, login, make_user, state_of
from tests.support.read_rows import new_tenant
from tests.support.settings import TEST_SECRET


@pytest.fixture(scope="module")
def user(api: TestClient) -> tuple[str, str]:
    tenant = new_tenant()
    return tenant, make_user(api, tenant, "moderator")


def claims_of(api: TestClient, email: str) -> dict[str, Any]:
    token = login(api, email)["Authorization"].split()[1]
    return jwt.decode(token, options={"verify_signature": False})


def forged(claims: dict[str, Any], key: str = TEST_SECRET, alg: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=alg)}"}


def me(api: TestClient, headers: dict[str, str]) -> Any:
    return api.get("/v1/me", headers=headers)


def test_login_returns_a_short_lived_jwt_that_names_user_tenant_and_role(
    api: TestClient, user: tuple[str, str]
) -> None:
    tenant, email = user
    response = api.post(
        "/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=anonymous()
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "modstream"
    assert claims["aud"] == "modstream-api"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["tid"] == tenant
    who = me(api, {"Authorization": f"Bearer {body['access_token']}"}).json()
    assert who["tenant"] == tenant
    assert who["email"] == email
    assert who["role"] == "moderator"
    assert who["scopes"] == ["ingest", "moderate", "read"]


def test_a_tampered_jwt_is_refused(api: TestClient, user: tuple[str, str]) -> None:
    token = login(api, user[1])["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tid"] = "someone-else"
    claims["role"] = "admin"
    evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = me(api, {"Authorization": f"Bearer {head}.{evil}.{signature}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "invalid_token"
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert me(api, {"Authorization": f"Bearer {head}.{payload}.{flipped}"}).status_code == 401


def test_an_expired_jwt_is_refused(api: TestClient, user: tuple[str, str]) -> None:
    claims = claims_of(api, user[1])
    past = datetime.now(UTC) - timedelta(hours=1)
    claims |= {"iat": past - timedelta(minutes=15), "nbf": past - timedelta(minutes=15),
               "exp": past}  # fmt: skip
    response = me(api, forged(claims))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
    assert me(api, forged(claims_of(api, user[1]))).status_code == 200  # the forger is right


def test_an_unsigned_alg_none_jwt_is_refused(api: TestClient, user: tuple[str, str]) -> None:
    claims = claims_of(api, user[1])
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert me(api, {"Authorization": f"Bearer {unsigned}"}).status_code == 401
    assert me(api, {"Authorization": f"Bearer {unsigned}x"}).status_code == 401


@pytest.mark.parametrize(
    ("change", "key", "alg"),
    [
        ({"iss": "someone-else"}, TEST_SECRET, "HS256"),
        ({"aud": "another-api"}, TEST_SECRET, "HS256"),
        ({}, "another-key-" + "y" * 40, "HS256"),
        ({}, TEST_SECRET, "HS384"),  # a valid signature, but not the pinned algorithm
        ({"exp": None}, TEST_SECRET, "HS256"),  # no expiry at all
        ({"sub": "999999999"}, TEST_SECRET, "HS256"),  # a user that does not exist
    ],
    ids=["issuer", "audience", "key", "algorithm", "no-expiry", "unknown-user"],
)
def test_a_jwt_for_another_issuer_audience_key_or_algorithm_is_refused(
    api: TestClient, user: tuple[str, str], change: dict[str, Any], key: str, alg: str
) -> None:
    claims = claims_of(api, user[1]) | change
    claims = {k: v for k, v in claims.items() if v is not None}
    assert me(api, forged(claims, key, alg)).status_code == 401


def test_garbage_and_missing_credentials_are_401(api: TestClient) -> None:
    for headers in (anonymous(), {"Authorization": "Bearer"}, {"Authorization": "Basic eDp5"},
                    {"Authorization": "Bearer not-a-token"}):  # fmt: skip
        response = me(api, headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_disabled_user_is_refused_at_once_even_with_a_valid_jwt(api: TestClient) -> None:
    email = make_user(api, new_tenant(), "member")
    headers = login(api, email)
    assert me(api, headers).status_code == 200
    with state_of(api).accounts.session() as session:
        session.query(User).filter_by(email=email).one().active = False
    assert me(api, headers).status_code == 401


def test_wrong_passwords_lock_the_account_for_a_while(api: TestClient, settings: Settings) -> None:
    email = make_user(api, new_tenant(), "member")
    wrong = {"email": email, "password": "not the password at all"}
    for _ in range(settings.accounts.login_max_failures):
        response = api.post("/v1/auth/login", json=wrong, headers=anonymous())
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"
    right = {"email": email, "password": PASSWORD}
    locked = api.post("/v1/auth/login", json=right, headers=anonymous())
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "account_locked"
    assert 0 < int(locked.headers["Retry-After"]) <= settings.accounts.login_lockout + 1
    with state_of(api).accounts.session() as session:  # the lock ends: then it works again
        session.query(User).filter_by(email=email).one().locked_until = datetime.now(UTC)
    assert api.post("/v1/auth/login", json=right, headers=anonymous()).status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(
    api: TestClient, user: tuple[str, str]
) -> None:
    a = api.post("/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12},
                 headers=anonymous())  # fmt: skip
    b = api.post("/v1/auth/login", json={"email": user[1], "password": "x" * 12},
                 headers=anonymous())  # fmt: skip
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_logins_per_client_address_are_rate_limited(
    api: TestClient, user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_of(api), "login_limiter", LoginLimiter(3))
    body = {"email": user[1], "password": PASSWORD}
    codes = [api.post("/v1/auth/login", json=body, headers=anonymous()) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[-1].json()["error"]["code"] == "too_many_logins"
    assert 0 < int(codes[-1].headers["Retry-After"]) <= 60


def test_passwords_are_stored_as_argon2id_hashes(api: TestClient, user: tuple[str, str]) -> None:
    with state_of(api).accounts.session() as session:
        stored = session.query(User).filter_by(email=user[1]).one().password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert security.verify_password(stored, PASSWORD)
    assert not security.verify_password(stored, PASSWORD + "!")
    assert security.hash_password(PASSWORD) != stored  # salted


def test_settings_refuse_unsafe_secrets_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(env="development").accounts.secret_key.get_secret_value() == DEV_SECRET
    short = AccountsSettings(secret_key=SecretStr("short-but-not-default"))
    for env in ("production", "test"):
        with pytest.raises(ValueError, match="must be set"):
            Settings(env=env)
        with pytest.raises(ValueError, match="at least 32"):
            Settings(env=env, accounts=short)
    long_enough = AccountsSettings(secret_key=SecretStr("z" * 32))
    assert Settings(env="production", accounts=long_enough).env == "production"
    monkeypatch.setenv("MODSTREAM_ENV", "production")
    monkeypatch.delenv("MODSTREAM_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_the_jwt_lifetime_has_bounds() -> None:
    with pytest.raises(ValueError, match="jwt_lifetime"):
        AccountsSettings(jwt_lifetime=7 * 86_400)


def test_signing_out_revokes_the_login_token_and_only_it(
    api: TestClient, user: tuple[str, str]
) -> None:
    tenant, email = user
    first, second = login(api, email), login(api, email)
    assert api.post("/v1/auth/logout", headers=first).status_code == 204
    refused = me(api, first)
    assert refused.status_code == 401
    assert me(api, second).status_code == 200  # another login of the same user stays valid
    assert api.post("/v1/auth/logout", headers=first).status_code == 401  # already signed out
    with state_of(api).accounts.session() as session:
        [entry] = service.entries(session, tenant, "logout", 10)
    assert entry.actor == f"user:{email}"


def test_an_api_token_is_not_signed_out_but_revoked(api: TestClient) -> None:
    headers = as_tenant(api, new_tenant())
    answer = api.post("/v1/auth/logout", headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "not_a_login")
    assert me(api, headers).status_code == 200
