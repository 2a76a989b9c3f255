"""The analytics routes refuse bad parameters with 422 and a code, before any query."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("timeseries", {"interval": "minute"}, "invalid_request"),
        ("timeseries", {"metric": "author"}, "invalid_request"),
        ("overview", {"until": "0.5"}, "invalid_request"),  # a number is not a date-time
        ("breakdown", {"by": "author"}, "invalid_request"),
        ("activity", {"since": "yesterday"}, "invalid_request"),
    ],
)  # fmt: skip
def test_errors(api: TestClient, path: str, params: dict[str, Any], code: str) -> None:
    response = api.get(f"/v1/analytics/{path}", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
