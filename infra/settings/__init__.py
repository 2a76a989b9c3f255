"""Settings from the environment (prefix `MODSTREAM_`) or a `.env` file.

`Settings` holds the few global fields and one section per feature (`settings.media`,
`settings.x`, …). Each section is a settings class of its own that reads its variables under
its own prefix (`MODSTREAM_MEDIA_MAX_PIXELS` → `settings.media.max_pixels`), so the variable
names stay what they always were; a section whose names share no prefix but `MODSTREAM_` keeps
them as field names (`settings.text.cascade_low`). A component receives its own section (or the
few values it needs), not the whole: the command-line modules and the app factories, which
compose the parts, hand each its own.

Built on first use by `get_settings()`, never at import time, so tests and commands can set the
environment first. Checks within a section live on the section; checks across sections here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from infra.errors import ConfigError
from infra.settings.accounts import DEV_SECRET, MIN_SECRET_CHARS, AccountsSettings
from infra.settings.api import ApiSettings, ChatSettings, ModerateSettings, PostsSettings
from infra.settings.media import MediaSettings
from infra.settings.metrics import MetricsSettings
from infra.settings.review import ReviewSettings
from infra.settings.streaming import (
    BrokerSettings,
    DedupeSettings,
    PolicySettings,
    SinkSettings,
    StrikeSettings,
    WorkerSettings,
)
from infra.settings.text import (
    DEV_ASSIST_SECRET,
    AssistSettings,
    LongTextSettings,
    RewriteSettings,
    TextSettings,
)
from infra.settings.x import XSettings

__all__ = [
    "DEV_ASSIST_SECRET",
    "DEV_SECRET",
    "MIN_SECRET_CHARS",
    "AccountsSettings",
    "ApiSettings",
    "AssistSettings",
    "BrokerSettings",
    "ChatSettings",
    "DedupeSettings",
    "LongTextSettings",
    "MediaSettings",
    "MetricsSettings",
    "ModerateSettings",
    "PolicySettings",
    "PostsSettings",
    "ReviewSettings",
    "RewriteSettings",
    "Settings",
    "SinkSettings",
    "StrikeSettings",
    "TextSettings",
    "WorkerSettings",
    "XSettings",
    "get_settings",
    "variables",
]


class Settings(BaseSettings):
    """Every setting: the global fields, and a section per feature."""

    model_config = SettingsConfigDict(env_prefix="MODSTREAM_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Broker logs, warehouse, models.")
    log_level: str = "INFO"
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of an external Kafka; unset starts the embedded one."
    )
    clickhouse_url: str | None = Field(
        default=None,
        description="chdb:///abs/path (embedded) or http(s)://user:pass@host:8123/db; "
        "defaults to an embedded warehouse under data_dir.",
    )
    model_dir: Path | None = Field(default=None, description="Defaults to data_dir/models.")
    training_data: Path = Field(
        default=Path("../shared/data"), description="Labeled JSONL data that `train` learns from."
    )
    heartbeat_file: Path | None = Field(
        default=None, description="Touched every few seconds by workers (container healthchecks)."
    )
    drain_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds `modstream up` gives its services to finish their work on Ctrl-C "
        "before it kills them (nothing is lost either way: what is unfinished resumes).",
    )

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    accounts: AccountsSettings = Field(default_factory=AccountsSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    longtext: LongTextSettings = Field(default_factory=LongTextSettings)
    rewrite: RewriteSettings = Field(default_factory=RewriteSettings)
    assist: AssistSettings = Field(default_factory=AssistSettings)
    strikes: StrikeSettings = Field(default_factory=StrikeSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    posts: PostsSettings = Field(default_factory=PostsSettings)
    moderate: ModerateSettings = Field(default_factory=ModerateSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    x: XSettings = Field(default_factory=XSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment and `.env` fill the global fields only: each section reads its own."""
        env, dotenv = _GlobalEnv(settings_cls), _GlobalDotEnv(settings_cls)
        return init_settings, env, dotenv, file_secret_settings

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env != "development":
            secret = self.accounts.secret_key.get_secret_value()
            if secret == DEV_SECRET:
                raise ValueError("MODSTREAM_SECRET_KEY must be set outside development")
            if len(secret) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"MODSTREAM_SECRET_KEY must have at least {MIN_SECRET_CHARS} characters "
                    "outside development (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
        if self.x.client_id and self.env != "development" and self.x.token_key is None:
            raise ValueError("MODSTREAM_X_TOKEN_KEY must be set outside development")
        return self

    @property
    def models_path(self) -> Path:
        return (self.model_dir or self.data_dir / "models").resolve()

    @property
    def warehouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'warehouse').resolve()}"

    @property
    def embedded_warehouse(self) -> bool:
        return self.warehouse_url.startswith("chdb://")

    @property
    def accounts_db_url(self) -> str:
        if self.accounts.url:
            return self.accounts.url
        return f"sqlite:///{(self.data_dir / 'accounts.db').resolve()}"

    @property
    def x_callback_url(self) -> str:
        """The X app's callback: the one configured, else this API's own."""
        return self.x.redirect_uri or f"http://{self.api.host}:{self.api.port}/v1/x/callback"

    @property
    def development_secret(self) -> SecretStr | None:
        """In development, the login secret, from which keys left unset are derived (the X token
        key); None elsewhere, where every key must be set."""
        return self.accounts.secret_key if self.env == "development" else None

    def require_bootstrap(self) -> str:
        """The Kafka bootstrap of a process that needs one (`up` sets it for its children)."""
        if not self.kafka_bootstrap:
            raise ConfigError(
                "MODSTREAM_KAFKA_BOOTSTRAP is not set (or start everything: modstream up)"
            )
        return self.kafka_bootstrap


class _GlobalEnv(EnvSettingsSource):
    """Reads no variable for a section field: a stray `MODSTREAM_MEDIA` (no such setting) must
    neither replace the media section nor fail as bad JSON."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _GlobalDotEnv(_GlobalEnv, DotEnvSettingsSource):
    """The same for `.env`."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def variables(cls: type[BaseSettings] = Settings) -> set[str]:
    """Every environment variable the settings read, its sections' included (for the docs and
    the tests that hold the names fixed)."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    found = set()
    for name, info in cls.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            found |= variables(kind)
        elif isinstance(info.validation_alias, str):
            found.add(info.validation_alias.upper())
        else:
            found.add(prefix + name.upper())
    return found
