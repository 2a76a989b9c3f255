"""Analytics from the hourly rollup: series, breakdowns, overview, activity; exact under replays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.read.analytics import MAX_BUCKETS
from api.rollups import refresh
from infra.warehouse import Warehouse
from infra.warehouse.sink import DEAD, EVENTS
from tests.support.accounts import as_tenant
from tests.support.polling import wait_for
from tests.support.read_rows import T0, activity_row, new_tenant, store, verdict_row

RANGE = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=3)).isoformat()}


@pytest.fixture(scope="module")
def tenant(warehouse: Warehouse) -> str:
    name = new_tenant()
    rows = [
        verdict_row(name, "s1", minutes=5, toxic=0.9, lang="en", latency_ms=50,
                    scores={"toxic": 0.9, "insult": 0.7}),
        verdict_row(name, "s2", minutes=10, toxic=0.1, lang="en", latency_ms=100),
        verdict_row(name, "s3", minutes=70, toxic=0.5, lang="ar", source="chat",
                    kind="chat_message", latency_ms=200),
        verdict_row(name, "s4", minutes=150, toxic=0.05, lang="fr", latency_ms=1000),
    ]  # fmt: skip
    store(warehouse, rows)
    store(warehouse, rows[:1])  # replayed: must not count twice
    dead = [["events.text", 0, 7, "schema_violation", "bad", "{}", 2, name, "x", T0]]
    warehouse.insert(DEAD.name, dead, DEAD.columns)
    refresh(warehouse)
    return name


def get(api: TestClient, tenant: str, path: str, **params: Any) -> Any:
    response = api.get(f"/v1/analytics/{path}", params=params, headers=as_tenant(api, tenant))
    assert response.status_code == 200, response.text
    return response.json()


def test_hourly_decisions_with_empty_buckets(api: TestClient, tenant: str) -> None:
    body = get(api, tenant, "timeseries", **RANGE)
    assert [(b["items"], b["counts"]) for b in body["buckets"]] == [
        (2, {"approve": 1, "reject": 1}),
        (1, {"review": 1}),
        (1, {"approve": 1}),
    ]


def test_daily_labels_and_filters(api: TestClient, tenant: str) -> None:
    body = get(api, tenant, "timeseries", metric="label", interval="day", **RANGE)
    assert len(body["buckets"]) == 1
    assert body["buckets"][0]["counts"] == {"toxic": 2, "insult": 1}
    chat = get(api, tenant, "timeseries", source="chat", **RANGE)
    assert [b["items"] for b in chat["buckets"]] == [0, 1, 0]
    weekly = get(api, tenant, "timeseries", interval="week", lang="en", **RANGE)
    assert weekly["buckets"][0]["t"].startswith("2026-03-02")  # a Monday
    assert weekly["buckets"][0]["items"] == 2


def test_breakdowns(api: TestClient, tenant: str) -> None:
    langs = get(api, tenant, "breakdown", by="lang", **RANGE)["data"]
    assert [(s["key"], s["items"], s["harmful"]) for s in langs] == [
        ("en", 2, 1), ("ar", 1, 1), ("fr", 1, 0),
    ]  # fmt: skip
    kinds = {
        s["key"]: s["items"] for s in get(api, tenant, "breakdown", by="kind", **RANGE)["data"]
    }
    assert kinds == {"post": 3, "chat_message": 1}
    sources = get(api, tenant, "breakdown", by="source", **RANGE)["data"]
    assert {s["key"] for s in sources} == {"comments", "chat"}


def test_overview(api: TestClient, tenant: str) -> None:
    body = get(api, tenant, "overview", **RANGE)
    assert body["items"] == 4
    assert body["harmful"] == 2
    assert body["harmful_rate"] == 0.5
    assert body["decisions"] == {"approve": 2, "review": 1, "reject": 1}
    assert body["dead_letters"] == {"total": 1, "by_reason": {"schema_violation": 1}}
    latency = body["latency_ms"]
    assert 100 <= latency["p50"] <= 100 * 1.19
    assert 1000 <= latency["p99"] <= 1000 * 1.19
    empty = get(api, new_tenant(), "overview", **RANGE)
    assert empty["items"] == 0
    assert empty["latency_ms"] == {"p50": None, "p95": None, "p99": None}


def test_ranges_every_date_time_may_name(api: TestClient, tenant: str) -> None:
    """Any RFC 3339 date-time is a bound: an empty range (since at or after until) selects
    nothing, bounds outside the warehouse's years select up to its ends, and a series longer
    than MAX_BUCKETS answers the latest buckets, its `since` saying where they start."""
    backwards = {"since": RANGE["until"], "until": RANGE["since"]}
    assert get(api, tenant, "overview", **backwards)["items"] == 0
    assert get(api, tenant, "timeseries", **backwards)["buckets"] == []
    wide = {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}
    assert get(api, tenant, "overview", **wide)["items"] == 4
    series = get(api, tenant, "timeseries", interval="week", **wide)
    assert len(series["buckets"]) == MAX_BUCKETS
    assert series["since"] == series["buckets"][0]["t"]


def test_a_replay_and_a_rejudgement_are_counted_once(api: TestClient, warehouse: Warehouse) -> None:
    name = new_tenant()
    first = verdict_row(name, "r1", toxic=0.5)  # review
    store(warehouse, [first])
    refresh(warehouse)
    store(warehouse, [first, first])  # replays
    store(warehouse, [verdict_row(name, "r1", toxic=0.95, judged_after_s=30)])  # now reject
    refresh(warehouse)
    body = get(api, name, "overview", **RANGE)
    assert body["items"] == 1
    assert body["decisions"] == {"reject": 1}  # the old review row was zeroed, not left behind


def test_activity_funnels_per_mode(api: TestClient, warehouse: Warehouse) -> None:
    name = new_tenant()
    store(warehouse, [verdict_row(name, "post-1", toxic=0.9), verdict_row(name, "post-2")])
    rows = [
        activity_row(name, "e1", "s1", "warning_shown", "warn", seconds=0),
        activity_row(name, "e2", "s1", "post_cancelled", "warn", seconds=10),
        activity_row(name, "e3", "s2", "warning_shown", "warn", seconds=0, user="u2"),
        activity_row(name, "e4", "s2", "posted_anyway", "warn", seconds=20, user="u2",
                     linked="post-1"),
        activity_row(name, "e5", "s3", "rewrite_suggested", "rewrite", seconds=0),
        activity_row(name, "e6", "s3", "rewrite_accepted", "rewrite", seconds=4,
                     linked="post-2"),
        activity_row(name, "e7", "s4", "typing", None, seconds=0),
    ]  # fmt: skip
    warehouse.insert(EVENTS.name, rows, EVENTS.columns)
    warehouse.insert(EVENTS.name, rows[:2], EVENTS.columns)  # replayed
    modes = {m["mode"]: m for m in get(api, name, "activity", **RANGE)["data"]}
    warn = modes["warn"]
    assert (warn["sessions"], warn["users"], warn["events"]) == (2, 2, 4)
    assert warn["warnings"] == {"shown": 2, "yes": 1, "no": 1, "rate": 0.5}
    assert warn["avg_session_seconds"] == 15.0
    assert (warn["posts"], warn["harmful_posts"], warn["harmful_rate"]) == (1, 1, 1.0)
    rewrite = modes["rewrite"]
    assert rewrite["rewrites"] == {"shown": 1, "yes": 1, "no": 0, "rate": 1.0}
    assert (rewrite["posts"], rewrite["harmful_posts"]) == (1, 0)
    assert modes["none"]["events"] == 1
    assert modes["none"]["harmful_rate"] is None


def test_the_background_refresher_catches_up(api: TestClient, warehouse: Warehouse) -> None:
    name = new_tenant()
    store(warehouse, [verdict_row(name, "b1")])
    wait_for(
        lambda: get(api, name, "overview", **RANGE)["items"] == 1,
        timeout=20,
        what="the app's refresher",
    )


def test_young_marks_wait_to_settle(warehouse: Warehouse) -> None:
    name = new_tenant()
    store(warehouse, [verdict_row(name, "y1")])
    refresh(warehouse, settle=3600)
    pending = warehouse.rows(
        "SELECT count() AS n FROM rollup_dirty_hours FINAL WHERE tenant = {t:String}", {"t": name}
    )
    assert pending[0]["n"] == 1
    refresh(warehouse)
    assert (
        warehouse.rows(
            "SELECT count() AS n FROM rollup_dirty_hours FINAL WHERE tenant = {t:String}",
            {"t": name},
        )[0]["n"]
        == 0
    )
