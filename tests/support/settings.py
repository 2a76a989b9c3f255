"""The settings every test process runs with: the test environment's secrets, a quick sink and
privacy refresh, and no login limit in the way (tests/unit/test_auth.py tests it with its own)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from infra.processes import free_port
from infra.settings import (
    AccountsSettings,
    AssistSettings,
    MediaSettings,
    MetricsSettings,
    ReviewSettings,
    Settings,
    SinkSettings,
)

TEST_SECRET = "test-secret-" + "x" * 40
ASSIST_SECRET = "assist-secret-" + "y" * 40


def settings_for(data_dir: Path, bootstrap: str) -> Settings:
    """Settings of an API over `data_dir` whose broker is at `bootstrap`."""
    return Settings(
        env="test",
        data_dir=data_dir,
        kafka_bootstrap=bootstrap,
        sink=SinkSettings(flush_interval=0.1),
        accounts=AccountsSettings(
            secret_key=SecretStr(TEST_SECRET),
            privacy_refresh=0.2,
            login_rate_per_minute=10_000,  # tests/unit/test_auth.py tests the limit with its own
        ),
        assist=AssistSettings(port=free_port(), secret=SecretStr(ASSIST_SECRET)),
        # Webhook tests receive on 127.0.0.1: granted here, as an operator would; quick retries.
        review=ReviewSettings(webhook_allowed_networks=["127.0.0.1/32"], webhook_backoff=0.2),
        metrics=MetricsSettings(lag_interval=1.0),
        # The console fetches media the tests serve on 127.0.0.1 again: granted, as for workers.
        media=MediaSettings(allowed_networks=["127.0.0.1/32"]),
    )
