"""A verdict by id, its text and its reuses, read through the copies ordered by event
(`verdicts_by_event`, `verdict_reuses`), say what `verdicts FINAL` and `events FINAL` say:
replays once, the newest judgement, each tenant its own, in a warehouse filled through the views
and in one upgraded from before them; the reuses' copy lists only verdicts that reused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant
from tests.support.paths import REPO
from tests.support.point_reads import BY_EVENT, IDS, reads, store_scenario
from tests.support.read_rows import new_tenant


@pytest.fixture(scope="module")
def tenants(warehouse: Warehouse) -> tuple[str, str]:
    tenant, other = new_tenant(), new_tenant()
    store_scenario(warehouse, tenant, other)
    return tenant, other


def assert_same_as_verdicts(found: dict[str, Any]) -> None:
    for event_id, read in found.items():
        assert read["verdict"] == read["reference_verdict"], event_id
        assert read["reused_by"] == read["reference_reused_by"], event_id
        assert read["detail"] == read["reference_detail"], event_id


def test_reads_by_id_agree_with_verdicts_final(
    warehouse: Warehouse, tenants: tuple[str, str]
) -> None:
    tenant, other = tenants
    found = reads(warehouse, tenant)
    assert_same_as_verdicts(found)
    assert_same_as_verdicts(reads(warehouse, other))
    assert found["v1"]["reused_by"] == ["v2", "v3"]  # v5 was re-judged on its own
    assert found["v5"]["verdict"]["duplicate_of"] is None
    assert found["v6"]["verdict"]["decision"] == "reject"  # the newest judgement
    assert found["nowhere"]["verdict"] is None
    assert found["nowhere"]["detail"] is None
    assert found["v1"]["detail"]["text"] == "text of v1"
    assert found["v4"]["detail"]["text"] == "text of v4"  # stored twice, one text
    assert found["v1"]["detail"]["reused_by"] == ["v2", "v3"]


def test_a_replayed_verdict_is_one_row_of_the_copy(
    warehouse: Warehouse, tenants: tuple[str, str]
) -> None:
    tenant, _ = tenants
    rows = warehouse.rows(
        "SELECT event_id, count() AS n FROM verdicts_by_event FINAL "
        "WHERE tenant = {tenant:String} GROUP BY event_id ORDER BY event_id",
        {"tenant": tenant},
    )
    assert [(r["event_id"], r["n"]) for r in rows] == [(i, 1) for i in IDS[:-1]]


def test_only_verdicts_that_reused_scores_are_listed_as_reuses(
    warehouse: Warehouse, tenants: tuple[str, str]
) -> None:
    """Candidates only (v5 stays listed after it was re-judged; readers check it again)."""
    tenant, other = tenants
    listed = {
        t: [
            r["event_id"]
            for r in warehouse.rows(
                "SELECT event_id FROM verdict_reuses FINAL WHERE tenant = {tenant:String} "
                "ORDER BY event_id",
                {"tenant": t},
            )
        ]
        for t in (tenant, other)
    }
    assert listed == {tenant: ["v2", "v3", "v5"], other: ["v2"]}


def test_detail_route_stays_in_its_tenant(api: TestClient, tenants: tuple[str, str]) -> None:
    tenant, other = tenants
    mine = api.get("/v1/verdicts/v1", headers=as_tenant(api, tenant)).json()
    theirs = api.get("/v1/verdicts/v1", headers=as_tenant(api, other)).json()
    assert (mine["author"], mine["reused_by"], mine["text"]) == (
        "alice",
        ["v2", "v3"],
        "text of v1",
    )
    assert (theirs["author"], theirs["reused_by"]) == ("zed", ["v2"])
    missing = api.get("/v1/verdicts/v3", headers=as_tenant(api, other))
    assert missing.status_code == 404


def test_an_existing_warehouse_is_upgraded_with_its_verdicts(tmp_path: Path) -> None:
    """Verdicts stored before migration 0011 are found by id once it ran."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.point_reads", str(tmp_path / "warehouse")],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["applied"][0] == BY_EVENT
    assert_same_as_verdicts(result["tenant"])
    assert_same_as_verdicts(result["other"])
    assert result["tenant"]["v1"]["reused_by"] == ["v2", "v3"]
    assert result["tenant"]["v4"]["verdict"]["event_id"] == "v4"
    assert result["other"]["v1"]["reused_by"] == ["v2"]
