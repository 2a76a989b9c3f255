"""Accounts and security (api/accounts, infra/accounts): see docs/security.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from infra.settings._section import section

# Refused outside development (see `Settings._check`); long enough for HS256 (PyJWT warns under
# 32 bytes).
DEV_SECRET = "dev-only-insecure-secret-never-use-outside-development"  # noqa: S105
MIN_SECRET_CHARS = 32


class AccountsSettings(BaseSettings):
    """Logins, tokens, registration, quotas and lockouts: `MODSTREAM_SECRET_KEY`, `_JWT_*`, …"""

    # The names of these variables share no prefix but `MODSTREAM_`; the store's URL keeps its
    # own (`MODSTREAM_ACCOUNTS_URL`) as an alias.
    model_config = section("MODSTREAM_")

    url: str | None = Field(
        default=None,
        validation_alias="MODSTREAM_ACCOUNTS_URL",
        description="SQLAlchemy URL of the accounts store; defaults to SQLite under data_dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db (the `postgres` extra).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signs login JWTs (HS256). Outside development: required, 32+ characters.",
    )
    jwt_issuer: str = Field(default="modstream", min_length=1)
    jwt_audience: str = Field(default="modstream-api", min_length=1)
    jwt_lifetime: int = Field(
        default=900, ge=60, le=86_400, description="Seconds a login token is valid."
    )
    token_prefix: str = Field(
        default="mod_",
        pattern=r"^[a-z][a-z0-9]{1,15}_$",
        description="Recognisable start of every API token (secret scanners can match it).",
    )
    registration: Literal["open", "invite", "closed"] = Field(
        default="invite",
        description="open: anyone may create a new tenant; invite: a code is required; "
        "closed: accounts come from `modstream admin` only.",
    )
    max_users: int = Field(default=10_000, ge=0, description="Users in total; 0: no limit.")
    quota_per_minute: int = Field(
        default=0, ge=0, description="Requests per tenant per minute; 0: no limit."
    )
    quota_per_day: int = Field(
        default=0, ge=0, description="Requests per tenant per UTC day; 0: no limit."
    )
    usage_flush_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between an API process's writes of its request counts (usage "
        "and quotas; docs/security.md).",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins in a row before the account is locked."
    )
    login_lockout: int = Field(default=900, ge=1, description="Seconds an account stays locked.")
    login_rate_per_minute: int = Field(
        default=20, ge=1, description="Login attempts per client address per minute."
    )
    privacy_refresh: float = Field(
        default=2.0, gt=0, le=300, description="Seconds the sink caches the privacy-mode tenants."
    )
