"""A verdict's rewrite suggestion and thread-context effect reach `GET /v1/verdicts/{id}` through
the warehouse, except the suggestion of a tenant in privacy mode (it is words of the text)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import make_token
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker

RUDE = "you are a stupid idiot and everyone here hates you"


def judged(api: TestClient, headers: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    assert api.post("/v1/events", json=event, headers=headers).status_code == 202
    found = wait_for(
        lambda: (
            (r := api.get(f"/v1/verdicts/{event['event_id']}", headers=headers)).is_success and r
        ),
        what=f"the verdict of {event['event_id']}",
    )
    return found.json()  # type: ignore[no-any-return]


def headers_of(api: TestClient, tenant: str, *, privacy: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(api, tenant, privacy=privacy)[1]}"}


def test_rewrite_and_context_are_served_and_private_suggestions_are_not_kept(
    api: TestClient, worker: Worker
) -> None:
    tenant, private = new_tenant(), new_tenant()
    event = post_event(f"x-{uuid.uuid4().hex[:8]}", RUDE, tenant=tenant, lang="en")
    event["payload"]["context"] = ["what do you all think of the new park?"]
    verdict = judged(api, headers_of(api, tenant), event)
    assert verdict["decision"] != "approve"
    assert verdict["rewrite"] is not None
    assert verdict["rewrite"].get("text") or verdict["rewrite"].get("note")
    assert verdict["context"]["items"] == 1
    assert verdict["context"]["raised"] is False  # a rude text is rude on its own

    secret = post_event(f"x-{uuid.uuid4().hex[:8]}", RUDE, tenant=private, lang="en")
    kept = judged(api, headers_of(api, private, privacy=True), secret)
    assert kept["decision"] == verdict["decision"]
    assert kept["rewrite"] is None
