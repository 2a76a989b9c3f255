"""The effective state (a reviewer's decision over the model's) everywhere items are counted or
delivered: the analytics rollups, the author statistics and the chat gateway, on the embedded
warehouse and broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.rollups import refresh
from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant
from tests.support.read_rows import T0, action, new_tenant, store, store_actions, verdict_row

RANGE = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=3)).isoformat()}


def get(api: TestClient, tenant: str, path: str, **params: Any) -> Any:
    response = api.get(path, params=params, headers=as_tenant(api, tenant))
    assert response.status_code == 200, response.text
    return response.json()


def counts(api: TestClient, tenant: str) -> tuple[Any, ...]:
    """The overview's, the hourly series', the author list's and one author's decisions."""
    overview = get(api, tenant, "/v1/analytics/overview", **RANGE)["decisions"]
    [hour, *_] = get(api, tenant, "/v1/analytics/timeseries", **RANGE)["buckets"]
    [listed] = [a for a in get(api, tenant, "/v1/authors")["data"] if a["author"] == "alice"]
    alice = get(api, tenant, "/v1/authors/alice")["decisions"]
    return overview, hour["counts"], listed["decisions"], alice


def test_analytics_and_author_statistics_count_reviewers_decisions(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    store(warehouse, [
        verdict_row(tenant, "sent-to-review", toxic=0.5),
        verdict_row(tenant, "rejected", minutes=1, toxic=0.9),
        verdict_row(tenant, "approved", minutes=2, toxic=0.1),
        verdict_row(tenant, "escalated", minutes=3, toxic=0.5),
    ])  # fmt: skip
    refresh(warehouse)
    model = {"approve": 1, "review": 2, "reject": 1}
    assert counts(api, tenant) == (model, model, model, model)

    # People remove the reviewed item, restore the rejected one, escalate the last (no effect).
    removal = action(tenant, "sent-to-review", "remove")
    store_actions(warehouse, [
        removal,
        action(tenant, "rejected", "approve", minutes=1, model_decision="reject"),
        action(tenant, "escalated", "escalate", minutes=3),
    ])  # fmt: skip
    refresh(warehouse)  # the decisions marked their hour and author dirty
    effective = {"approve": 2, "review": 1, "reject": 1}
    assert counts(api, tenant) == (effective, effective, effective, effective)

    # The removal overturned on appeal: the item counts as approved again.
    overturn = action(tenant, "sent-to-review", "overturn", decided_after_min=60)
    store_actions(warehouse, [overturn.model_copy(update={"appeal_of": removal.action_id})])
    refresh(warehouse)
    restored, per_author = {"approve": 3, "review": 1}, {"approve": 3, "review": 1, "reject": 0}
    assert counts(api, tenant) == (restored, restored, per_author, per_author)
