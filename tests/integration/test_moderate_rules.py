"""The tenant's rules on the synchronous routes, through the real services: rules saved through
the API, the assist service (a subprocess with the cascade) applying them as a worker does, a
worker's counts seen by the synchronous judge (one counters file), the verdict published and
stored with the rules it fired, and the shadow rules' records reaching the warehouse."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker

KIND = "What a lovely photo of the harbour, thanks for sharing"
RULES = """
counter posts = count by author within 1h

rule everything_reviewed:
    when toxic >= 0
    then review, queue "mods"

rule flood:
    when posts >= 2
    then reject, label "flood"

shadow rule strict:
    when toxic >= 0
    then reject
"""


@pytest.fixture(scope="module")
def tenant(api: TestClient, assist_service: Worker) -> tuple[str, dict[str, str]]:
    """A tenant whose rules are in force in the assist service."""
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    saved = api.put("/v1/tenant/rules", json={"source": RULES}, headers=headers)
    assert saved.status_code == 200, saved.text

    def in_force() -> bool:
        body = moderate(api, headers, f"warm-{uuid.uuid4().hex[:8]}")
        return body["rules"] is not None

    wait_for(in_force, 30, what="the rules in force in the assist service")
    return tenant, headers


def moderate(api: TestClient, headers: dict[str, str], author: str) -> dict[str, Any]:
    response = api.post(
        "/v1/moderate", json={"text": KIND, "author": author, "lang": "en"}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_answer_is_decided_by_the_rules_and_records_them(
    api: TestClient, tenant: tuple[str, dict[str, str]]
) -> None:
    _, headers = tenant
    body = moderate(api, headers, "ann")
    assert body["decision"] == "review"
    rules = body["rules"]
    assert (rules["ruleset_version"], rules["policy_decision"]) == (1, "approve")
    assert [r["rule"] for r in rules["fired"]] == ["everything_reviewed"]
    assert rules["fired"][0]["actions"] == [
        {"kind": "decision", "value": "review"},
        {"kind": "queue", "value": "mods"},
    ]
    assert [r["rule"] for r in rules["shadow"]] == ["strict"]
    assert rules["counters"] == {"posts": 1}

    again = moderate(api, headers, "ann")  # the same author's second item within the hour
    assert again["decision"] == "reject"
    assert again["rules"]["counters"] == {"posts": 2}
    assert [r["rule"] for r in again["rules"]["fired"]] == ["everything_reviewed", "flood"]
    assert again["rules"]["labels"] == ["flood"]

    stored = wait_for(
        lambda: (
            (r := api.get(f"/v1/verdicts/{again['event_id']}", headers=headers)).is_success
            and r.json()
        ),
        30,
        what="the verdict in the warehouse",
    )
    assert stored["decision"] == "reject"
    assert stored["rules"] == again["rules"]


def test_the_openai_route_flags_what_the_rules_reject(
    api: TestClient, tenant: tuple[str, dict[str, str]]
) -> None:
    _, headers = tenant
    moderate(api, headers, "bea")
    response = api.post("/v1/moderations", json={"input": KIND}, headers=headers)
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["flagged"] is False  # each input is a new item of author "openai": posts 1
    second = api.post("/v1/moderations", json={"input": [KIND, KIND]}, headers=headers).json()
    assert any(r["flagged"] for r in second["results"])  # the flood rule: a reject is flagged
    assert not any(second["results"][0]["categories"].values())


def test_what_a_worker_counted_counts_here(
    api: TestClient, worker: Worker, tenant: tuple[str, dict[str, str]]
) -> None:
    name, headers = tenant
    author = f"cal-{uuid.uuid4().hex[:6]}"
    event_id = f"mr-{uuid.uuid4().hex[:10]}"
    event = post_event(event_id, KIND, tenant=name, author=author, lang="en")
    assert api.post("/v1/events", json=event, headers=headers).status_code == 202
    judged = wait_for(
        lambda: (r := api.get(f"/v1/verdicts/{event_id}", headers=headers)).is_success and r.json(),
        180,  # the first waits for the session's worker to start
        what=f"the worker's verdict of {event_id}",
    )
    assert judged["rules"]["counters"] == {"posts": 1}
    assert moderate(api, headers, author)["rules"]["counters"] == {"posts": 2}


def test_shadow_rules_of_synchronous_verdicts_reach_the_warehouse(
    api: TestClient, tenant: tuple[str, dict[str, str]]
) -> None:
    _, headers = tenant
    moderate(api, headers, f"dan-{uuid.uuid4().hex[:6]}")

    def compared() -> Any:
        found = api.get("/v1/tenant/rules/shadow", headers=headers).json()["rules"]
        return found if found and found[0]["fired"] >= 1 else None

    [strict] = wait_for(compared, 60, what="the shadow rule in the warehouse")
    assert strict["rule"] == "strict"
    assert set(strict["outcomes"]) <= {"review>reject", "reject>reject"}
