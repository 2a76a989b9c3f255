"""The strikes worker on the real broker, killed with SIGKILL and restarted, blocking the sixth
offence; lifting a block needs the `moderate` scope."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.stack import Worker

TOXIC = "You are a pathetic idiot, shut up you stupid loser"


def _report(api: TestClient, author: str) -> dict[str, Any]:
    response = api.get(f"/v1/authors/{author}/strikes")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_strikes_survive_a_sigkill_and_block_the_sixth_offence(
    api: TestClient, worker: Worker, settings: Settings, model_dir: Path, tmp_path: Path
) -> None:
    strikes = Worker(settings, model_dir, tmp_path / "strikes.log", command="strikes").start()
    author = f"striker-{uuid.uuid4().hex[:8]}"
    try:
        # Four offences in one request: their table updates leave back to back.
        first = [post_event(f"{author}-{i}", TOXIC, author=author) for i in range(4)]
        assert api.post("/v1/events", json=first).status_code == 202
        wait_for(lambda: _report(api, author)["strikes"] == 4, 120, what="four strikes")
        time.sleep(3)  # past the commit interval: the restart must recover, not re-read
        strikes.kill()
        strikes.start()
        fifth = post_event(f"{author}-4", TOXIC, author=author)
        assert api.post("/v1/events", json=fifth).status_code == 202
        wait_for(
            lambda: not api.get(f"/v1/authors/{author}/can-chat").json()["can_chat"], 120,
            what="the block after the fifth strike",
        )  # fmt: skip
        report = _report(api, author)
        assert report["blocked"]
        assert report["block"]["action"] == "block"
        assert report["block"]["strikes"] == 5
        assert report["block"]["actor"] == "strikes"
        wait_for(lambda: _report(api, author)["strikes"] == 5, 30, what="five strikes stored")
        # The sixth offence is refused before it is published; others still pass.
        sixth = post_event(f"{author}-5", TOXIC, author=author)
        response = api.post("/v1/events", json=[post_event(f"{author}-ok", "hi"), sixth])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "author_blocked"
        assert response.json()["error"]["details"] == [
            {"index": 1, "event_id": f"{author}-5", "author": author}
        ]
        # A moderator lifts the block; the strikes before it are forgiven.
        lifted = api.post(f"/v1/authors/{author}/unblock", json={"reason": "appeal accepted"})
        assert lifted.status_code == 200
        assert lifted.json()["can_chat"]
        # Items sent before the unblock are forgiven (the refused one never was published);
        # the next offence is a first strike again.
        again = post_event(f"{author}-6", TOXIC, author=author)
        assert api.post("/v1/events", json=again).status_code == 202
        wait_for(lambda: _report(api, author)["strikes"] == 1, 60, what="a fresh strike")
        assert not _report(api, author)["blocked"]
        audit = api.get("/v1/audit", params={"action": "author.unblock"}).json()
        assert any(e["target"] == f"author:{author}" for e in audit)
    finally:
        strikes.stop()


def test_unblocking_needs_the_moderate_scope(api: TestClient) -> None:
    from tests.support.accounts import as_tenant

    reader = as_tenant(api, "demo", ("read",))
    assert api.post("/v1/authors/x/unblock", headers=reader).status_code == 403
    assert api.get("/v1/authors/x/can-chat", headers=reader).json()["can_chat"] is True
