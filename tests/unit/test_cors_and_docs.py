"""CORS for the origins an operator allows (none by default), and the API's documentation pages
served from this process: a browser on an air-gapped host loads every script and style."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import ApiSettings, Settings

ALLOWED = "https://console.example.com"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def client(settings: Settings, origins: list[str]) -> TestClient:
    api = settings.api.model_copy(update={"cors_origins": origins})
    return TestClient(create_app(settings.model_copy(update={"api": api})))


def test_a_preflight_from_an_allowed_origin_is_answered(settings: Settings) -> None:
    response = client(settings, [ALLOWED]).options("/v1/events", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens only


def test_answers_carry_the_origin_and_expose_the_request_id(settings: Settings) -> None:
    response = client(settings, [ALLOWED]).get("/openapi.json", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origins", [[], [ALLOWED]])
def test_other_origins_get_no_cors_headers(settings: Settings, origins: list[str]) -> None:
    """Off by default; on, only the listed origins."""
    app = client(settings, origins)
    preflight = app.options("/v1/events", headers=PREFLIGHT | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in preflight.headers
    answer = app.get("/openapi.json", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_the_setting_reads_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ApiSettings().cors_origins == []
    monkeypatch.setenv("MODSTREAM_API_CORS_ORIGINS", f'["{ALLOWED}"]')
    assert ApiSettings().cors_origins == [ALLOWED]


_URL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?([^"')\s>]+)""", re.IGNORECASE)
_ABSOLUTE = re.compile(r"""["'(]\s*(?:https?:)?//[A-Za-z0-9]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_no_other_host(api: TestClient, page: str) -> None:
    response = api.get(page)
    assert response.status_code == 200
    html = response.text
    assert not _ABSOLUTE.search(html), "the page names another host"
    assets = [u for u in _URL.findall(html) if u.startswith("/docs-assets/")]
    assert len(assets) >= 2  # the script, and the style or favicon
    for asset in assets:
        served = api.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1_000
    assert "/openapi.json" in html


def test_the_swagger_bundle_itself_loads_nothing_from_a_cdn(api: TestClient) -> None:
    """The scripts pull in no further files (fonts, workers) from elsewhere at run time."""
    for asset in ("swagger-ui-bundle.js", "redoc.standalone.js", "swagger-ui.css"):
        body = api.get(f"/docs-assets/{asset}").text
        assert "cdn.jsdelivr.net" not in body, asset
        assert "fonts.googleapis.com" not in body, asset
