"""Composer assist without the service: the shared secret the service requires outside
development, and drafts `POST /v1/assist` refuses before asking it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from infra.errors import ConfigError
from infra.settings import AssistSettings
from streams.assist import check_secret


def test_the_secret_is_required_outside_development() -> None:
    with pytest.raises(ConfigError, match="ASSIST_SECRET"):
        check_secret(AssistSettings(), "production")
    with pytest.raises(ConfigError):
        check_secret(AssistSettings(secret=SecretStr("short")), "production")
    development = check_secret(AssistSettings(), "development")
    assert development == AssistSettings().secret.get_secret_value()
    with pytest.raises(ValueError, match="loopback"):
        AssistSettings(host="0.0.0.0")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"text": "x" * 5_001}, ["body", "text"]),
        ({"text": "hi", "context": ["a"] * 21}, ["body", "context"]),
        ({"text": "hi", "tenant": "someone-else"}, ["body", "tenant"]),
        ({"text": "hi", "rewrite": "always"}, ["body", "rewrite"]),
        ({}, ["body", "text"]),
    ],
)
def test_invalid_drafts_are_refused(
    api: TestClient, body: dict[str, Any], where: list[str]
) -> None:
    response = api.post("/v1/assist", json=body)
    assert response.status_code == 422
    assert where in [d["loc"] for d in response.json()["error"]["details"]]
