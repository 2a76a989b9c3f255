"""A running worker decides under a tenant's new policy without a restart."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker

STRICT = {"toxic": {"low": 0.0, "high": 0.0}, "labels": {"identity_hate": {"low": 0, "high": 0.3}}}


def test_a_running_worker_decides_under_the_new_policy_without_a_restart(
    api: TestClient, worker: Worker
) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)

    def judge(text: str) -> dict[str, Any]:
        event_id = f"pol-{uuid.uuid4().hex[:10]}"
        event = post_event(event_id, text, tenant=tenant, lang="en")
        assert api.post("/v1/events", json=event, headers=headers).status_code == 202
        found = wait_for(
            lambda: (r := api.get(f"/v1/verdicts/{event_id}", headers=headers)).is_success and r,
            what=f"the verdict of {event_id}",
        )
        return found.json()  # type: ignore[no-any-return]

    before = judge("Thanks, see you at the meeting tomorrow")
    assert before["decision"] != "reject"
    assert api.put("/v1/tenant/policy", json=STRICT, headers=headers).is_success
    # Any score above 0 is rejected now, once the worker has re-read the policies.
    deadline = time.monotonic() + 30
    while (after := judge("Thanks, see you at the game on Sunday"))["decision"] != "reject":
        assert time.monotonic() < deadline, "the worker never applied the new policy"
        time.sleep(0.5)
    assert after["policy_version"] != before["policy_version"]
