"""Nobody unauthenticated gets in: every route of the app but the public ones (enumerated from
`app.routes`, so a new route is covered at once) answers an anonymous caller, and a forged
token on the WebSocket, with 401 and `WWW-Authenticate: Bearer`. What another tenant's
credentials reach is tested against stored data in tests/integration/test_isolation.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from tests.support.accounts import anonymous
from tests.support.routes import protected_routes


@pytest.mark.parametrize("route", protected_routes(), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_callers_get_401(api: TestClient, route: tuple[str, str]) -> None:
    method, template = route
    path = template.format(token_id=1, invite_id=1, event_id="x", author="x", bank="x",
                           entry_id="x", post_id="x", account_id=1,
                           dead_letter_id="events.text:0:1", queue="default", review_item=1,
                           hook=1, reviewer="user:x@example.com", code="doxxing")  # fmt: skip
    if method == "WS":
        with pytest.raises(WebSocketDenialResponse) as denied:  # noqa: SIM117
            with api.websocket_connect(path, headers=anonymous()):
                pass
        assert denied.value.status_code == 401
        with pytest.raises(WebSocketDenialResponse) as bad:  # noqa: SIM117
            with api.websocket_connect(path + "?token=mod_forged", headers=anonymous()):
                pass
        assert bad.value.status_code == 401
        return
    response = api.request(method, path, headers=anonymous(), json={})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
