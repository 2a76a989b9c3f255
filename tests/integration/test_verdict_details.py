"""A verdict in full read from `verdict_details` (migration 0015), the narrow copy keyed by event,
says what the source tables say: the newest judgement whatever the order it arrived in, the
text, the reviewers' latest effective decision, the reuses; the copy holds every verdict column
and is rebuilt from the sources by its migration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.read.moderation import effects
from api.read.verdict import get_verdict_detail
from infra.warehouse import Warehouse
from infra.warehouse.migrate import available
from schemas.rows import VERDICT_ROWS
from tests.support.point_reads import IDS, reads, store_scenario
from tests.support.read_rows import action, new_tenant, store, store_actions, verdict_row

DETAILS = 15
"""The migration that added `verdict_details`."""


def detail(warehouse: Warehouse, tenant: str, event_id: str) -> dict[str, Any] | None:
    found = get_verdict_detail(warehouse, tenant, event_id)
    return found.model_dump(mode="json") if found else None


def test_the_newest_judgement_wins_whatever_order_it_arrives_in(warehouse: Warehouse) -> None:
    tenant = new_tenant()
    store(warehouse, [verdict_row(tenant, "late", toxic=0.95, judged_after_s=3600)])
    store(warehouse, [verdict_row(tenant, "late", toxic=0.1, judged_after_s=1)])  # older, later
    store(warehouse, [verdict_row(tenant, "rejudged", toxic=0.1, judged_after_s=1)])
    store(warehouse, [verdict_row(tenant, "rejudged", toxic=0.5, judged_after_s=60)])
    late, rejudged = detail(warehouse, tenant, "late"), detail(warehouse, tenant, "rejudged")
    assert late is not None
    assert rejudged is not None
    assert (late["decision"], late["toxic"]) == ("reject", pytest.approx(0.95))
    assert (rejudged["decision"], rejudged["toxic"]) == ("review", pytest.approx(0.5))
    assert late["text"] == "text of late"


def test_the_reviewers_latest_effective_decision_is_read(warehouse: Warehouse) -> None:
    tenant = new_tenant()
    store(warehouse, [verdict_row(tenant, e, toxic=0.6) for e in ("kept", "restored", "none")])
    store_actions(warehouse, [
        action(tenant, "kept", "remove", decided_after_min=5),
        action(tenant, "kept", "label", decided_after_min=9),  # no effect: the removal stands
        action(tenant, "restored", "remove", decided_after_min=5),
        action(tenant, "restored", "overturn", decided_after_min=30),
        action(tenant, "none", "escalate", decided_after_min=5),
    ])  # fmt: skip
    found = {e: detail(warehouse, tenant, e) for e in ("kept", "restored", "none")}
    assert {e: d and d["moderation"] for e, d in found.items()} == {
        "kept": "removed", "restored": "visible", "none": None,
    }  # fmt: skip
    assert effects(warehouse, tenant, list(found)) == {"kept": "removed", "restored": "visible"}


def test_the_copy_holds_every_verdict_column(warehouse: Warehouse) -> None:
    """A verdict column the copy's JSON lacked would be read as its default."""
    tenant = new_tenant()
    store(warehouse, [verdict_row(tenant, "v1")])
    [row] = warehouse.rows(
        "SELECT body FROM verdict_details WHERE tenant = {tenant:String} AND part = 'verdict'",
        {"tenant": tenant},
    )
    assert list(json.loads(row["body"])) == list(VERDICT_ROWS.columns)


def test_the_copy_is_rebuilt_from_the_sources(warehouse: Warehouse) -> None:
    """Emptied and migrated again, the copy reads as `verdicts`, `events` and
    `moderation_actions` say (the scenario of reads by id: replays, re-judged items, reuses)."""
    tenant, other = new_tenant(), new_tenant()
    store_scenario(warehouse, tenant, other)
    store_actions(warehouse, [action(tenant, "v4", "remove")])
    before = {e: detail(warehouse, tenant, e) for e in IDS}
    warehouse.command("TRUNCATE TABLE verdict_details")
    assert detail(warehouse, tenant, "v1") is None
    [migration] = [m for m in available() if m.version == DETAILS]
    for statement in migration.statements():
        warehouse.command(statement)
    for event_id, read in reads(warehouse, tenant).items():
        expected = read["reference_detail"]
        if event_id == "v4":  # the one item a reviewer removed
            expected = expected | {"moderation": "removed"}
        assert read["detail"] == expected, event_id
    assert {e: detail(warehouse, tenant, e) for e in IDS} == before
    assert before["v4"] is not None
    assert before["v4"]["moderation"] == "removed"
    assert before["v1"] is not None
    assert before["v1"]["reused_by"] == ["v2", "v3"]
