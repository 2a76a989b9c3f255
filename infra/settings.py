"""Settings from the environment (prefix `MODSTREAM_`) or a `.env` file.

Built on first use by `get_settings()`, never at import time, so tests and commands can set the
environment first. One flat class of every feature's fields (over 400 lines): splitting it into
a section per feature is planned, with each component given only its own section.
"""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.errors import ConfigError

# Refused outside development (see `_check`); long enough for HS256 (PyJWT warns under 32 bytes).
DEV_SECRET = "dev-only-insecure-secret-never-use-outside-development"  # noqa: S105
MIN_SECRET_CHARS = 32
DEV_ASSIST_SECRET = "dev-only-assist-secret-never-use-outside-development"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODSTREAM_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Broker logs, warehouse, models.")
    log_level: str = "INFO"

    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of an external Kafka; unset starts the embedded one."
    )
    broker_storage: Literal["durable", "memory"] = Field(
        default="durable",
        description="The embedded broker's storage: `durable` keeps topics and offsets on disk "
        "(a local object store) through any crash; `memory` is faster and loses them.",
    )
    drain_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds `modstream up` gives its services to finish their work on Ctrl-C "
        "before it kills them (nothing is lost either way: what is unfinished resumes).",
    )
    clickhouse_url: str | None = Field(
        default=None,
        description="chdb:///abs/path (embedded) or http(s)://user:pass@host:8123/db; "
        "defaults to an embedded warehouse under data_dir.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signs login JWTs (HS256). Outside development: required, 32+ characters.",
    )

    # Accounts and security (api/accounts, infra/accounts): see README "Accounts and security".
    accounts_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the accounts store; defaults to SQLite under data_dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db (the `postgres` extra).",
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

    model_dir: Path | None = Field(default=None, description="Defaults to data_dir/models.")
    training_data: Path = Field(
        default=Path("../shared/data"), description="Labeled JSONL data that `train` learns from."
    )
    heartbeat_file: Path | None = Field(
        default=None, description="Touched every few seconds by workers (container healthchecks)."
    )
    policy_low: float = Field(default=0.2, ge=0.0, le=1.0, description="Approve at or below.")
    policy_high: float = Field(default=0.8, ge=0.0, le=1.0, description="Reject above.")
    policy_file: Path | None = Field(
        default=None, description="JSON: per-label thresholds, per-tenant policies (README)."
    )
    policy_refresh: float = Field(
        default=5.0, gt=0, le=300, description="Seconds between workers' reads of tenant policies."
    )

    worker_batch_size: int = Field(default=500, ge=1)
    worker_batch_within: float = Field(default=0.02, gt=0, description="Seconds to fill a batch.")
    worker_fetch_max_wait_ms: int = Field(default=40, ge=10)
    worker_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Batches in flight per worker (Faust actors). Above 1, batches of one "
        "partition may be judged out of order, and which of two copies of an item is judged "
        "first is not fixed.",
    )
    worker_pipeline_process: bool = Field(
        default=True,
        description="Judge text in a child process (decoding, the model, rewrites, verdicts), so "
        "the worker's event loop only moves bytes; false judges in a thread of the worker.",
    )
    dedupe_cache_size: int = Field(default=1_000_000, ge=1_000)
    dedupe_path: Path | None = Field(
        default=None,
        description="SQLite file that keeps the dedupe memory across restarts; defaults to "
        "data_dir/dedupe.sqlite3.",
    )
    dedupe_ttl_days: float = Field(
        default=30.0, gt=0, description="Days an item or a text is remembered as judged."
    )

    # Text models (streams/text): see README "Text models".
    transformer_models: dict[str, Path] = Field(
        default_factory=dict,
        description='Exported transformer model dirs per language, JSON: {"ar": "/models/ar"}.',
    )
    transformer_default: bool = Field(
        default=True, description="Use the shipped English transformer when none is configured."
    )
    transformer_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime intra-op threads per model process."
    )
    cascade_low: float = Field(default=0.3, ge=0.0, le=1.0, description="Uncertainty band low.")
    cascade_high: float = Field(default=0.7, ge=0.0, le=1.0, description="Uncertainty band high.")
    cascade_blend: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Transformer weight for escalated texts."
    )

    # Rewrites, thread context, long texts, composer assist: see README "Composer assist".
    rewrite_llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (POST {url}/chat/completions) for "
        "rewrite suggestions; unset: the offline rewriter only.",
    )
    rewrite_llm_key: SecretStr | None = Field(
        default=None, description="Sent as a bearer token to the rewrite endpoint."
    )
    rewrite_llm_model: str = Field(default="gpt-4o-mini", min_length=1)
    rewrite_llm_timeout: float = Field(
        default=5.0, gt=0, le=120, description="Seconds per rewrite request."
    )
    context_max_items: int = Field(
        default=3, ge=0, le=20, description="Thread context texts read per post (parent first)."
    )
    longtext_window_words: int = Field(
        default=30, ge=10, le=1_000, description="Words per window of a long text."
    )
    longtext_overlap_words: int = Field(
        default=10, ge=0, le=500, description="Words two neighbouring windows share."
    )
    longtext_whole_words: int = Field(
        default=60,
        ge=0,
        le=1_000,
        description="Texts up to this many words are judged whole, longer ones by windows "
        "(the transformer reads about 60 words).",
    )
    longtext_rates: dict[int, float] = Field(
        default_factory=lambda: {500: 0.8, 1000: 0.6, 3000: 0.4},
        description="Share of a long text's windows the expensive tier judges, by the text's "
        'length in words (up to N words), JSON: {"500": 0.8, "1000": 0.6, "3000": 0.4}.',
    )
    longtext_rate_beyond: float = Field(
        default=0.2, ge=0.0, le=1.0, description="The share for texts longer than every bound."
    )
    assist_host: str = Field(
        default="127.0.0.1", description="The assist service listens here (loopback only)."
    )
    assist_port: int = Field(default=8002, ge=1, le=65_535)
    assist_secret: SecretStr = Field(
        default=SecretStr(DEV_ASSIST_SECRET),
        description="Shared between the API and the assist service (header X-Assist-Secret). "
        "Outside development the service refuses to start without one of 32+ characters.",
    )
    assist_timeout: float = Field(
        default=2.0, gt=0, le=60, description="Seconds the API waits for the assist service."
    )

    # Strikes (streams/strikes.py): see README "Strikes and blocks".
    strike_limit: int = Field(
        default=5, ge=1, description="Strikes (rejected items) in the window that block an author."
    )
    strike_window: int = Field(
        default=30 * 86_400, ge=60, description="Seconds a strike counts (by item time)."
    )

    # Chat gateway (producers/chat): see README "Chat".
    chat_host: str = "127.0.0.1"
    chat_port: int = 8001
    chat_mode: Literal["withhold", "mask", "flag"] = Field(
        default="withhold",
        description="What a receiver gets of a rejected message: nothing, the text with the "
        "toxic spans masked, or the text marked flagged.",
    )
    chat_modes: dict[str, Literal["withhold", "mask", "flag"]] = Field(
        default_factory=dict, description='Per-tenant chat modes, JSON: {"acme": "mask"}.'
    )

    # Posts and comments (api/routes/threads.py): see README "Posts and comments".
    posts_mode: Literal["withhold", "mask", "flag"] = Field(
        default="withhold",
        description="What readers of a thread get of a rejected post or comment (as chat_mode).",
    )
    posts_modes: dict[str, Literal["withhold", "mask", "flag"]] = Field(
        default_factory=dict, description='Per-tenant thread modes, JSON: {"acme": "flag"}.'
    )
    posts_parent_wait: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Seconds a new comment waits for its parent to reach the warehouse (a "
        "parent created a moment ago may still be on its way) before 404.",
    )

    sink_batch_size: int = Field(default=5_000, ge=1)
    sink_flush_interval: float = Field(default=0.2, gt=0)

    # Media (streams/media, infra/fetch.py): see README "Media".
    media_max_image_bytes: int = Field(default=20 * 2**20, ge=1024)
    media_max_video_bytes: int = Field(default=200 * 2**20, ge=1024)
    media_fetch_timeout: float = Field(default=15.0, gt=0, description="Seconds per fetch.")
    media_fetch_max_redirects: int = Field(default=3, ge=0, le=10)
    media_fetch_concurrency: int = Field(default=16, ge=1, le=256)
    media_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs fetched even though not public (e.g. an internal CDN); JSON list.",
    )
    media_max_pixels: int = Field(default=50_000_000, ge=1, description="Per image or frame.")
    media_frame_interval: float = Field(default=3.0, gt=0, description="Video sampling, seconds.")
    media_max_frames: int = Field(default=120, ge=5, description="Frames hashed per video.")
    media_video_budget: float = Field(default=20.0, gt=0, description="Decode seconds per video.")
    media_threshold_phash: int = Field(default=10, ge=0, le=64)
    media_threshold_pdq: int = Field(default=31, ge=0, le=256)
    media_flood_window: float = Field(default=3600.0, gt=0, description="Seconds.")
    media_flood_max_matches: int = Field(
        default=200, ge=1, description="Matches of one bank entry per window before quarantine."
    )
    media_default_decision: Literal["approve", "review", "reject"] = "approve"
    media_classifier: Path | None = Field(
        default=None, description="An ONNX image classifier (see streams/media/classifier.py)."
    )
    media_batch_size: int = Field(default=32, ge=1, description="Media events per batch.")

    # X/Twitter ingestion (infra/x, producers/x, api/x): see README "X/Twitter ingestion".
    x_client_id: str | None = Field(
        default=None, description="OAuth 2.0 client id of the X app; unset: X ingestion is off."
    )
    x_client_secret: SecretStr | None = Field(
        default=None, description="Only for a confidential X app (sent as HTTP Basic)."
    )
    x_redirect_uri: str | None = Field(
        default=None,
        description="The callback registered with the X app; defaults to this API's "
        "/v1/x/callback.",
    )
    x_connected_url: str | None = Field(
        default=None,
        description="Where the X callback sends the browser when it is done (a dashboard page): "
        "303 with `x_account` and `x_username`, or `x_error` (the refusal's code). Unset: the "
        "callback answers JSON.",
    )
    x_token_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) that encrypt X tokens at rest, comma-separated (the first "
        "encrypts; the rest still decrypt, for rotation). Outside development: required once "
        "x_client_id is set.",
    )
    x_api_url: str = Field(default="https://api.x.com", description="X API v2 base URL.")
    x_authorize_url: str = Field(
        default="https://x.com/i/oauth2/authorize", description="Where operators authorize."
    )
    x_poll_interval: float = Field(default=60.0, ge=1.0, description="Seconds between polls.")
    x_page_size: int = Field(default=100, ge=5, le=100, description="Tweets per timeline page.")
    x_max_pages: int = Field(default=10, ge=1, le=100, description="Pages per account per poll.")
    x_refresh_margin: float = Field(
        default=300.0, ge=0, description="Refresh an access token this many seconds before expiry."
    )
    x_max_wait: float = Field(
        default=900.0,
        ge=0,
        description="Longest the poller waits for a rate-limit reset within a poll; beyond it, "
        "the account is skipped until the reset.",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self._check_ranges()
        if self.env != "development":
            self._check_secret_key()
        self._check_x_token_key()
        return self

    def _check_ranges(self) -> None:
        if self.policy_low > self.policy_high:
            raise ValueError("policy_low must not exceed policy_high")
        if self.cascade_low > self.cascade_high:
            raise ValueError("cascade_low must not exceed cascade_high")
        if self.longtext_overlap_words >= self.longtext_window_words:
            raise ValueError("longtext_overlap_words must be smaller than longtext_window_words")
        if any(n < 1 or not 0.0 <= r <= 1.0 for n, r in self.longtext_rates.items()):
            raise ValueError("longtext_rates: word bounds >= 1 and shares in [0, 1]")
        if not _loopback(self.assist_host):
            raise ValueError("assist_host must be a loopback address (127.0.0.1, ::1, localhost)")

    def _check_secret_key(self) -> None:
        """Outside development: a secret of our own, long enough for HS256."""
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET:
            raise ValueError("MODSTREAM_SECRET_KEY must be set outside development")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"MODSTREAM_SECRET_KEY must have at least {MIN_SECRET_CHARS} characters "
                "outside development (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )

    def _check_x_token_key(self) -> None:
        if self.x_client_id and self.env != "development" and self.x_token_key is None:
            raise ValueError("MODSTREAM_X_TOKEN_KEY must be set outside development")
        if self.x_token_key is None:
            return
        for key in self.x_token_key.get_secret_value().split(","):
            if not _is_fernet_key(key.strip()):
                raise ValueError(
                    "MODSTREAM_X_TOKEN_KEY: each key is 32 url-safe base64 bytes (e.g. "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                )

    @property
    def x_callback_url(self) -> str:
        return self.x_redirect_uri or f"http://{self.api_host}:{self.api_port}/v1/x/callback"

    @property
    def models_path(self) -> Path:
        return (self.model_dir or self.data_dir / "models").resolve()

    @property
    def warehouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'warehouse').resolve()}"

    def require_bootstrap(self) -> str:
        """The Kafka bootstrap of a process that needs one (`up` sets it for its children)."""
        if not self.kafka_bootstrap:
            raise ConfigError(
                "MODSTREAM_KAFKA_BOOTSTRAP is not set (or start everything: modstream up)"
            )
        return self.kafka_bootstrap

    @property
    def accounts_db_url(self) -> str:
        if self.accounts_url:
            return self.accounts_url
        return f"sqlite:///{(self.data_dir / 'accounts.db').resolve()}"

    @property
    def broker_durable(self) -> bool:
        return self.broker_storage == "durable"

    @property
    def embedded_warehouse(self) -> bool:
        return self.warehouse_url.startswith("chdb://")


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except ValueError:  # binascii.Error included
        return False


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
