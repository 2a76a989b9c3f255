from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from infra.settings import (
    AccountsSettings,
    AssistSettings,
    LongTextSettings,
    PolicySettings,
    Settings,
    TextSettings,
    XSettings,
    variables,
)

# Every variable the flat settings class accepted (`MODSTREAM_` + each of its field names), as it
# stood before the settings were split into sections: a public contract, none may go.
FLAT_NAMES = [
    "MODSTREAM_ENV", "MODSTREAM_DATA_DIR", "MODSTREAM_LOG_LEVEL", "MODSTREAM_KAFKA_BOOTSTRAP",
    "MODSTREAM_BROKER_STORAGE", "MODSTREAM_DRAIN_TIMEOUT", "MODSTREAM_CLICKHOUSE_URL",
    "MODSTREAM_API_HOST", "MODSTREAM_API_PORT", "MODSTREAM_SECRET_KEY", "MODSTREAM_ACCOUNTS_URL",
    "MODSTREAM_JWT_ISSUER", "MODSTREAM_JWT_AUDIENCE", "MODSTREAM_JWT_LIFETIME",
    "MODSTREAM_TOKEN_PREFIX", "MODSTREAM_REGISTRATION", "MODSTREAM_MAX_USERS",
    "MODSTREAM_QUOTA_PER_MINUTE", "MODSTREAM_QUOTA_PER_DAY", "MODSTREAM_LOGIN_MAX_FAILURES",
    "MODSTREAM_LOGIN_LOCKOUT", "MODSTREAM_LOGIN_RATE_PER_MINUTE", "MODSTREAM_PRIVACY_REFRESH",
    "MODSTREAM_MODEL_DIR", "MODSTREAM_TRAINING_DATA", "MODSTREAM_HEARTBEAT_FILE",
    "MODSTREAM_POLICY_LOW", "MODSTREAM_POLICY_HIGH", "MODSTREAM_POLICY_FILE",
    "MODSTREAM_POLICY_REFRESH", "MODSTREAM_WORKER_BATCH_SIZE", "MODSTREAM_WORKER_BATCH_WITHIN",
    "MODSTREAM_WORKER_FETCH_MAX_WAIT_MS", "MODSTREAM_WORKER_CONCURRENCY",
    "MODSTREAM_WORKER_PIPELINE_PROCESS", "MODSTREAM_WORKER_JUDGES", "MODSTREAM_DEDUPE_CACHE_SIZE",
    "MODSTREAM_DEDUPE_PATH",
    "MODSTREAM_DEDUPE_TTL_DAYS", "MODSTREAM_TRANSFORMER_MODELS", "MODSTREAM_TRANSFORMER_DEFAULT",
    "MODSTREAM_TRANSFORMER_THREADS", "MODSTREAM_CASCADE_LOW", "MODSTREAM_CASCADE_HIGH",
    "MODSTREAM_CASCADE_BLEND", "MODSTREAM_REWRITE_LLM_URL", "MODSTREAM_REWRITE_LLM_KEY",
    "MODSTREAM_REWRITE_LLM_MODEL", "MODSTREAM_REWRITE_LLM_TIMEOUT", "MODSTREAM_CONTEXT_MAX_ITEMS",
    "MODSTREAM_LONGTEXT_WINDOW_WORDS", "MODSTREAM_LONGTEXT_OVERLAP_WORDS",
    "MODSTREAM_LONGTEXT_WHOLE_WORDS", "MODSTREAM_LONGTEXT_RATES", "MODSTREAM_LONGTEXT_RATE_BEYOND",
    "MODSTREAM_ASSIST_HOST", "MODSTREAM_ASSIST_PORT", "MODSTREAM_ASSIST_SECRET",
    "MODSTREAM_ASSIST_TIMEOUT", "MODSTREAM_STRIKE_LIMIT", "MODSTREAM_STRIKE_WINDOW",
    "MODSTREAM_CHAT_HOST", "MODSTREAM_CHAT_PORT", "MODSTREAM_CHAT_MODE", "MODSTREAM_CHAT_MODES",
    "MODSTREAM_POSTS_MODE", "MODSTREAM_POSTS_MODES", "MODSTREAM_POSTS_PARENT_WAIT",
    "MODSTREAM_MODERATE_DEADLINE",
    "MODSTREAM_SINK_BATCH_SIZE", "MODSTREAM_SINK_FLUSH_INTERVAL", "MODSTREAM_MEDIA_MAX_IMAGE_BYTES",
    "MODSTREAM_MEDIA_MAX_VIDEO_BYTES", "MODSTREAM_MEDIA_FETCH_TIMEOUT",
    "MODSTREAM_MEDIA_FETCH_MAX_REDIRECTS", "MODSTREAM_MEDIA_FETCH_CONCURRENCY",
    "MODSTREAM_MEDIA_ALLOWED_NETWORKS", "MODSTREAM_MEDIA_MAX_PIXELS",
    "MODSTREAM_MEDIA_FRAME_INTERVAL", "MODSTREAM_MEDIA_MAX_FRAMES", "MODSTREAM_MEDIA_VIDEO_BUDGET",
    "MODSTREAM_MEDIA_THRESHOLD_PHASH", "MODSTREAM_MEDIA_THRESHOLD_PDQ",
    "MODSTREAM_MEDIA_FLOOD_WINDOW", "MODSTREAM_MEDIA_FLOOD_MAX_MATCHES",
    "MODSTREAM_MEDIA_DEFAULT_DECISION", "MODSTREAM_MEDIA_CLASSIFIER", "MODSTREAM_MEDIA_BATCH_SIZE",
    "MODSTREAM_X_CLIENT_ID", "MODSTREAM_X_CLIENT_SECRET", "MODSTREAM_X_REDIRECT_URI",
    "MODSTREAM_X_CONNECTED_URL", "MODSTREAM_X_TOKEN_KEY", "MODSTREAM_X_API_URL",
    "MODSTREAM_X_AUTHORIZE_URL", "MODSTREAM_X_POLL_INTERVAL", "MODSTREAM_X_PAGE_SIZE",
    "MODSTREAM_X_MAX_PAGES", "MODSTREAM_X_REFRESH_MARGIN", "MODSTREAM_X_MAX_WAIT",
    # Added since: CORS and the metrics endpoints.
    "MODSTREAM_API_CORS_ORIGINS", "MODSTREAM_METRICS_HOST", "MODSTREAM_METRICS_API_ROUTE",
    "MODSTREAM_METRICS_WORKER_PORT", "MODSTREAM_METRICS_STRIKES_PORT",
    "MODSTREAM_METRICS_SINK_PORT", "MODSTREAM_METRICS_LAG_INTERVAL",
]  # fmt: skip

# Variables added since the split, each in its own section.
ADDED = [
    "MODSTREAM_REVIEW_LEASE", "MODSTREAM_REVIEW_APPEAL_WINDOW", "MODSTREAM_REVIEW_SLA",
    "MODSTREAM_REVIEW_WEBHOOK_ATTEMPTS", "MODSTREAM_REVIEW_WEBHOOK_BACKOFF",
    "MODSTREAM_REVIEW_WEBHOOK_TIMEOUT", "MODSTREAM_REVIEW_WEBHOOK_ALLOWED_NETWORKS",
    "MODSTREAM_USAGE_FLUSH_INTERVAL", "MODSTREAM_BROKER_RETENTION_AFTER_READ",
]  # fmt: skip

FERNET_KEY = "A" * 43 + "="  # 32 zero bytes, url-safe base64

# Where each variable lands, a value to set it to, and what that value reads as. Every value
# differs from the default, so a variable that is not read fails the test.
WHERE: dict[str, tuple[str, str, Any]] = {
    "MODSTREAM_ENV": ("env", "test", "test"),
    "MODSTREAM_DATA_DIR": ("data_dir", "/srv/data", Path("/srv/data")),
    "MODSTREAM_LOG_LEVEL": ("log_level", "DEBUG", "DEBUG"),
    "MODSTREAM_KAFKA_BOOTSTRAP": ("kafka_bootstrap", "kafka:9092", "kafka:9092"),
    "MODSTREAM_BROKER_STORAGE": ("broker.storage", "memory", "memory"),
    "MODSTREAM_BROKER_RETENTION_AFTER_READ": ("broker.retention_after_read", "60", 60.0),
    "MODSTREAM_DRAIN_TIMEOUT": ("drain_timeout", "12", 12.0),
    "MODSTREAM_CLICKHOUSE_URL": ("clickhouse_url", "http://ch:8123/m", "http://ch:8123/m"),
    "MODSTREAM_API_HOST": ("api.host", "0.0.0.0", "0.0.0.0"),
    "MODSTREAM_API_PORT": ("api.port", "9000", 9000),
    "MODSTREAM_SECRET_KEY": ("accounts.secret_key", "k" * 40, SecretStr("k" * 40)),
    "MODSTREAM_ACCOUNTS_URL": ("accounts.url", "sqlite:///a.db", "sqlite:///a.db"),
    "MODSTREAM_JWT_ISSUER": ("accounts.jwt_issuer", "iss", "iss"),
    "MODSTREAM_JWT_AUDIENCE": ("accounts.jwt_audience", "aud", "aud"),
    "MODSTREAM_JWT_LIFETIME": ("accounts.jwt_lifetime", "120", 120),
    "MODSTREAM_TOKEN_PREFIX": ("accounts.token_prefix", "acme_", "acme_"),
    "MODSTREAM_REGISTRATION": ("accounts.registration", "open", "open"),
    "MODSTREAM_MAX_USERS": ("accounts.max_users", "7", 7),
    "MODSTREAM_QUOTA_PER_MINUTE": ("accounts.quota_per_minute", "60", 60),
    "MODSTREAM_QUOTA_PER_DAY": ("accounts.quota_per_day", "600", 600),
    "MODSTREAM_USAGE_FLUSH_INTERVAL": ("accounts.usage_flush_interval", "2.5", 2.5),
    "MODSTREAM_LOGIN_MAX_FAILURES": ("accounts.login_max_failures", "3", 3),
    "MODSTREAM_LOGIN_LOCKOUT": ("accounts.login_lockout", "60", 60),
    "MODSTREAM_LOGIN_RATE_PER_MINUTE": ("accounts.login_rate_per_minute", "9", 9),
    "MODSTREAM_PRIVACY_REFRESH": ("accounts.privacy_refresh", "4", 4.0),
    "MODSTREAM_MODEL_DIR": ("model_dir", "/srv/models", Path("/srv/models")),
    "MODSTREAM_TRAINING_DATA": ("training_data", "/srv/labeled", Path("/srv/labeled")),
    "MODSTREAM_HEARTBEAT_FILE": ("heartbeat_file", "/tmp/beat", Path("/tmp/beat")),
    "MODSTREAM_POLICY_LOW": ("policy.low", "0.1", 0.1),
    "MODSTREAM_POLICY_HIGH": ("policy.high", "0.9", 0.9),
    "MODSTREAM_POLICY_FILE": ("policy.file", "/srv/policy.json", Path("/srv/policy.json")),
    "MODSTREAM_POLICY_REFRESH": ("policy.refresh", "7", 7.0),
    "MODSTREAM_WORKER_BATCH_SIZE": ("worker.batch_size", "50", 50),
    "MODSTREAM_WORKER_BATCH_WITHIN": ("worker.batch_within", "0.5", 0.5),
    "MODSTREAM_WORKER_FETCH_MAX_WAIT_MS": ("worker.fetch_max_wait_ms", "100", 100),
    "MODSTREAM_WORKER_CONCURRENCY": ("worker.concurrency", "2", 2),
    "MODSTREAM_WORKER_PIPELINE_PROCESS": ("worker.pipeline_process", "false", False),
    "MODSTREAM_WORKER_JUDGES": ("worker.judges", "3", 3),
    "MODSTREAM_DEDUPE_CACHE_SIZE": ("dedupe.cache_size", "5000", 5000),
    "MODSTREAM_DEDUPE_PATH": ("dedupe.path", "/srv/d.sqlite3", Path("/srv/d.sqlite3")),
    "MODSTREAM_DEDUPE_TTL_DAYS": ("dedupe.ttl_days", "3", 3.0),
    "MODSTREAM_TRANSFORMER_MODELS": ("text.transformer_models", '{"ar": "/m/ar"}',
                                     {"ar": Path("/m/ar")}),
    "MODSTREAM_TRANSFORMER_DEFAULT": ("text.transformer_default", "false", False),
    "MODSTREAM_TRANSFORMER_THREADS": ("text.transformer_threads", "2", 2),
    "MODSTREAM_CASCADE_LOW": ("text.cascade_low", "0.25", 0.25),
    "MODSTREAM_CASCADE_HIGH": ("text.cascade_high", "0.75", 0.75),
    "MODSTREAM_CASCADE_BLEND": ("text.cascade_blend", "0.6", 0.6),
    "MODSTREAM_REWRITE_LLM_URL": ("rewrite.url", "http://llm", "http://llm"),
    "MODSTREAM_REWRITE_LLM_KEY": ("rewrite.key", "sk-1", SecretStr("sk-1")),
    "MODSTREAM_REWRITE_LLM_MODEL": ("rewrite.model", "small", "small"),
    "MODSTREAM_REWRITE_LLM_TIMEOUT": ("rewrite.timeout", "9", 9.0),
    "MODSTREAM_CONTEXT_MAX_ITEMS": ("text.context_max_items", "5", 5),
    "MODSTREAM_LONGTEXT_WINDOW_WORDS": ("longtext.window_words", "40", 40),
    "MODSTREAM_LONGTEXT_OVERLAP_WORDS": ("longtext.overlap_words", "5", 5),
    "MODSTREAM_LONGTEXT_WHOLE_WORDS": ("longtext.whole_words", "80", 80),
    "MODSTREAM_LONGTEXT_RATES": ("longtext.rates", '{"100": 0.5}', {100: 0.5}),
    "MODSTREAM_LONGTEXT_RATE_BEYOND": ("longtext.rate_beyond", "0.1", 0.1),
    "MODSTREAM_ASSIST_HOST": ("assist.host", "::1", "::1"),
    "MODSTREAM_ASSIST_PORT": ("assist.port", "8100", 8100),
    "MODSTREAM_ASSIST_SECRET": ("assist.secret", "a" * 40, SecretStr("a" * 40)),
    "MODSTREAM_ASSIST_TIMEOUT": ("assist.timeout", "3", 3.0),
    "MODSTREAM_STRIKE_LIMIT": ("strikes.limit", "3", 3),
    "MODSTREAM_STRIKE_WINDOW": ("strikes.window", "3600", 3600),
    "MODSTREAM_CHAT_HOST": ("chat.host", "::1", "::1"),
    "MODSTREAM_CHAT_PORT": ("chat.port", "8101", 8101),
    "MODSTREAM_CHAT_MODE": ("chat.mode", "mask", "mask"),
    "MODSTREAM_CHAT_MODES": ("chat.modes", '{"acme": "flag"}', {"acme": "flag"}),
    "MODSTREAM_POSTS_MODE": ("posts.mode", "flag", "flag"),
    "MODSTREAM_POSTS_MODES": ("posts.modes", '{"acme": "mask"}', {"acme": "mask"}),
    "MODSTREAM_POSTS_PARENT_WAIT": ("posts.parent_wait", "2", 2.0),
    "MODSTREAM_MODERATE_DEADLINE": ("moderate.deadline", "0.5", 0.5),
    "MODSTREAM_SINK_BATCH_SIZE": ("sink.batch_size", "100", 100),
    "MODSTREAM_SINK_FLUSH_INTERVAL": ("sink.flush_interval", "2", 2.0),
    "MODSTREAM_MEDIA_MAX_IMAGE_BYTES": ("media.max_image_bytes", "4096", 4096),
    "MODSTREAM_MEDIA_MAX_VIDEO_BYTES": ("media.max_video_bytes", "8192", 8192),
    "MODSTREAM_MEDIA_FETCH_TIMEOUT": ("media.fetch_timeout", "4", 4.0),
    "MODSTREAM_MEDIA_FETCH_MAX_REDIRECTS": ("media.fetch_max_redirects", "1", 1),
    "MODSTREAM_MEDIA_FETCH_CONCURRENCY": ("media.fetch_concurrency", "4", 4),
    "MODSTREAM_MEDIA_ALLOWED_NETWORKS": ("media.allowed_networks", '["10.0.0.0/8"]',
                                         ["10.0.0.0/8"]),
    "MODSTREAM_MEDIA_MAX_PIXELS": ("media.max_pixels", "1000", 1000),
    "MODSTREAM_MEDIA_FRAME_INTERVAL": ("media.frame_interval", "1.5", 1.5),
    "MODSTREAM_MEDIA_MAX_FRAMES": ("media.max_frames", "10", 10),
    "MODSTREAM_MEDIA_VIDEO_BUDGET": ("media.video_budget", "5", 5.0),
    "MODSTREAM_MEDIA_THRESHOLD_PHASH": ("media.threshold_phash", "8", 8),
    "MODSTREAM_MEDIA_THRESHOLD_PDQ": ("media.threshold_pdq", "30", 30),
    "MODSTREAM_MEDIA_FLOOD_WINDOW": ("media.flood_window", "60", 60.0),
    "MODSTREAM_MEDIA_FLOOD_MAX_MATCHES": ("media.flood_max_matches", "20", 20),
    "MODSTREAM_MEDIA_DEFAULT_DECISION": ("media.default_decision", "review", "review"),
    "MODSTREAM_MEDIA_CLASSIFIER": ("media.classifier", "/m/nsfw.onnx", Path("/m/nsfw.onnx")),
    "MODSTREAM_MEDIA_BATCH_SIZE": ("media.batch_size", "8", 8),
    "MODSTREAM_X_CLIENT_ID": ("x.client_id", "cid", "cid"),
    "MODSTREAM_X_CLIENT_SECRET": ("x.client_secret", "csecret", SecretStr("csecret")),
    "MODSTREAM_X_REDIRECT_URI": ("x.redirect_uri", "https://m/cb", "https://m/cb"),
    "MODSTREAM_X_CONNECTED_URL": ("x.connected_url", "https://m/done", "https://m/done"),
    "MODSTREAM_X_TOKEN_KEY": ("x.token_key", FERNET_KEY, SecretStr(FERNET_KEY)),
    "MODSTREAM_X_API_URL": ("x.api_url", "http://fake-x", "http://fake-x"),
    "MODSTREAM_X_AUTHORIZE_URL": ("x.authorize_url", "http://fake-x/a", "http://fake-x/a"),
    "MODSTREAM_X_POLL_INTERVAL": ("x.poll_interval", "30", 30.0),
    "MODSTREAM_X_PAGE_SIZE": ("x.page_size", "10", 10),
    "MODSTREAM_X_MAX_PAGES": ("x.max_pages", "2", 2),
    "MODSTREAM_X_REFRESH_MARGIN": ("x.refresh_margin", "60", 60.0),
    "MODSTREAM_X_MAX_WAIT": ("x.max_wait", "5", 5.0),
    "MODSTREAM_REVIEW_LEASE": ("review.lease", "30", 30.0),
    "MODSTREAM_REVIEW_APPEAL_WINDOW": ("review.appeal_window", "3600", 3600),
    "MODSTREAM_REVIEW_SLA": ("review.sla", "600", 600),
    "MODSTREAM_REVIEW_WEBHOOK_ATTEMPTS": ("review.webhook_attempts", "3", 3),
    "MODSTREAM_REVIEW_WEBHOOK_BACKOFF": ("review.webhook_backoff", "0.5", 0.5),
    "MODSTREAM_REVIEW_WEBHOOK_TIMEOUT": ("review.webhook_timeout", "4", 4.0),
    "MODSTREAM_REVIEW_WEBHOOK_ALLOWED_NETWORKS": ("review.webhook_allowed_networks",
                                                  '["10.0.0.0/8"]', ["10.0.0.0/8"]),
    "MODSTREAM_API_CORS_ORIGINS": ("api.cors_origins", '["https://a.example"]',
                                   ["https://a.example"]),
    "MODSTREAM_METRICS_HOST": ("metrics.host", "0.0.0.0", "0.0.0.0"),
    "MODSTREAM_METRICS_API_ROUTE": ("metrics.api_route", "false", False),
    "MODSTREAM_METRICS_WORKER_PORT": ("metrics.worker_port", "19464", 19464),
    "MODSTREAM_METRICS_STRIKES_PORT": ("metrics.strikes_port", "19465", 19465),
    "MODSTREAM_METRICS_SINK_PORT": ("metrics.sink_port", "0", 0),
    "MODSTREAM_METRICS_LAG_INTERVAL": ("metrics.lag_interval", "2.5", 2.5),
}  # fmt: skip


def _read(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def test_every_variable_keeps_its_name() -> None:
    assert len(FLAT_NAMES) == len(set(FLAT_NAMES)) == 107
    assert set(WHERE) == set(FLAT_NAMES) | set(ADDED)
    assert variables() == set(FLAT_NAMES) | set(ADDED)  # none lost, none unlisted


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No MODSTREAM_ variable and no .env of the caller's: the test sets its own."""
    for name in FLAT_NAMES + ADDED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _check_all(settings: Settings) -> None:
    wrong = {}
    for name, (dotted, _, expected) in WHERE.items():
        found = _read(settings, dotted)
        if found != expected:
            wrong[name] = (dotted, found)
    assert not wrong


def test_every_variable_lands_in_its_section(clean: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert not [n for n, (dotted, _, value) in WHERE.items() if _read(defaults, dotted) == value]
    for name, (_, raw, _) in WHERE.items():
        clean.setenv(name, raw)
    _check_all(Settings())


def test_every_variable_is_read_from_a_dotenv_file(clean: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("".join(f"{n}='{raw}'\n" for n, (_, raw, _) in WHERE.items()))
    _check_all(Settings())


def test_sections_read_only_their_own_names(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("MODSTREAM_URL", "sqlite:///nowhere.db")  # the field's name, not its variable
    clean.setenv("MODSTREAM_MAX_PIXELS", "5")  # a media field without its section's prefix
    clean.setenv("MODSTREAM_MEDIA", '{"max_pixels": 5}')  # a section is no variable
    clean.setenv("MODSTREAM_API", "http://127.0.0.1:8000")  # nor read as (bad) JSON
    Path(".env").write_text('MODSTREAM_X=\'{"client_id": "c"}\'\n')
    settings = Settings()
    assert settings.accounts.url is None
    assert settings.media.max_pixels == 50_000_000
    assert settings.api.port == 8000
    assert settings.x.client_id is None


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production")


def test_production_accepts_a_real_secret() -> None:
    accounts = AccountsSettings(secret_key=SecretStr("a-long-random-value-from-the-vault"))
    settings = Settings(env="production", accounts=accounts)
    assert settings.accounts.secret_key.get_secret_value().startswith("a-long")
    assert "a-long" not in repr(settings)  # secrets never show in logs


def test_checks_within_a_section_keep_their_messages() -> None:
    with pytest.raises(ValidationError, match="policy_low must not exceed policy_high"):
        Settings(policy=PolicySettings(low=0.9, high=0.1))
    with pytest.raises(ValidationError, match="cascade_low must not exceed cascade_high"):
        TextSettings(cascade_low=0.9, cascade_high=0.1)
    with pytest.raises(ValidationError, match="longtext_overlap_words must be smaller"):
        LongTextSettings(window_words=10, overlap_words=10)
    with pytest.raises(ValidationError, match="longtext_rates: word bounds"):
        LongTextSettings(rates={0: 0.5})
    with pytest.raises(ValidationError, match="assist_host must be a loopback address"):
        AssistSettings(host="0.0.0.0")
    with pytest.raises(ValidationError, match="MODSTREAM_X_TOKEN_KEY: each key is 32"):
        XSettings(token_key=SecretStr("not-a-key"))


def test_a_bad_variable_names_its_check(clean: pytest.MonkeyPatch) -> None:
    from infra.errors import ConfigError
    from infra.settings import get_settings

    clean.setenv("MODSTREAM_POLICY_LOW", "0.9")
    clean.setenv("MODSTREAM_POLICY_HIGH", "0.1")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="policy_low must not exceed policy_high"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_checks_across_sections_live_on_the_root() -> None:
    accounts = AccountsSettings(secret_key=SecretStr("s" * 40))
    with pytest.raises(ValidationError, match="MODSTREAM_X_TOKEN_KEY must be set outside"):
        Settings(env="production", accounts=accounts, x=XSettings(client_id="c"))
    assert Settings(env="development", x=XSettings(client_id="c")).development_secret is not None
    assert Settings(env="test", accounts=accounts).development_secret is None


def test_warehouse_defaults_to_an_embedded_chdb_under_the_data_dir() -> None:
    settings = Settings(data_dir=Path("/srv/modstream"))
    assert settings.warehouse_url == "chdb:///srv/modstream/warehouse"
    assert settings.embedded_warehouse
    server = Settings(clickhouse_url="http://u:p@ch:8123/modstream")
    assert not server.embedded_warehouse


def test_paths_and_addresses_derived_across_sections(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("MODSTREAM_API_PORT", "9000")
    settings = Settings(data_dir=Path("/srv/modstream"))
    assert settings.accounts_db_url == "sqlite:////srv/modstream/accounts.db"
    assert settings.models_path == Path("/srv/modstream/models")
    assert settings.x_callback_url == "http://127.0.0.1:9000/v1/x/callback"
    assert settings.broker.durable


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODSTREAM_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("MODSTREAM_POLICY_HIGH", "0.7")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.policy.high == 0.7
