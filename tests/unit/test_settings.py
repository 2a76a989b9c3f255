from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production")


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(env="production", secret_key="a-long-random-value-from-the-vault")
    assert settings.secret_key.get_secret_value().startswith("a-long")
    assert "a-long" not in repr(settings)  # secrets never show in logs


def test_policy_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="policy_low"):
        Settings(policy_low=0.9, policy_high=0.1)


def test_warehouse_defaults_to_an_embedded_chdb_under_the_data_dir(tmp_path: object) -> None:
    settings = Settings(data_dir="/srv/modstream")
    assert settings.warehouse_url == "chdb:///srv/modstream/warehouse"
    assert settings.embedded_warehouse
    server = Settings(clickhouse_url="http://u:p@ch:8123/modstream")
    assert not server.embedded_warehouse


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODSTREAM_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("MODSTREAM_POLICY_HIGH", "0.7")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.policy_high == 0.7
