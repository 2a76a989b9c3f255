"""`GET /v1/posts` and `GET /v1/verdicts/{id}` against chdb: filters, pages, exports, errors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant
from tests.support.read_rows import T0, new_tenant, store, verdict_row


@pytest.fixture(scope="module")
def tenant(warehouse: Warehouse) -> str:
    """Twelve judged items with varied attributes, plus one replayed (stored twice)."""
    name = new_tenant()
    rows = [
        verdict_row(name, "p01", minutes=0, toxic=0.05, author="alice", lang="en"),
        verdict_row(name, "p02", minutes=1, toxic=0.95, author="bob", lang="en",
                    scores={"toxic": 0.95, "insult": 0.9}),
        verdict_row(name, "p03", minutes=2, toxic=0.5, author="alice", lang="ar", source="chat",
                    kind="chat_message"),
        verdict_row(name, "p04", minutes=3, toxic=0.85, author="carol", lang="fr",
                    scores={"toxic": 0.85, "threat": 0.6}),
        verdict_row(name, "p05", minutes=4, toxic=0.1, author="bob", lang="en", source="x"),
        verdict_row(name, "p06", minutes=5, toxic=0.3, author="alice", lang="en"),
        verdict_row(name, "p07", minutes=5, toxic=0.7, author="dave", lang="ar", source="chat",
                    kind="chat_message", scores={"toxic": 0.7, "insult": 0.4}),
        verdict_row(name, "p08", minutes=5, toxic=0.99, author="bob", lang="en",
                    scores={"toxic": 0.99, "insult": 0.7, "threat": 0.95}),
        verdict_row(name, "p09", minutes=6, toxic=0.15, author="erin", lang="es", source="x"),
        verdict_row(name, "p10", minutes=7, toxic=0.6, author="alice", lang="en",
                    judged_after_s=3600),
        verdict_row(name, "p11", minutes=8, toxic=0.2, author="frank", lang="en",
                    duplicate_of="p01"),
        verdict_row(name, "p12", minutes=9, toxic=0.05, author="bob", lang="en",
                    duplicate_of="p01"),
    ]  # fmt: skip
    store(warehouse, rows, text="Text {id} says hello")
    store(warehouse, [rows[1]], text="Text {id} says hello")  # a replay: stored twice
    store(warehouse, [verdict_row(new_tenant(), "p02", toxic=0.9)])  # another tenant
    return name


def ids(api: TestClient, tenant: str, **params: Any) -> list[str]:
    response = api.get("/v1/posts", params=params | {"limit": 100}, headers=as_tenant(api, tenant))
    assert response.status_code == 200, response.text
    return [item["event_id"] for item in response.json()["data"]]


NEWEST_FIRST = ["p12", "p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02", "p01"]


def test_newest_first_by_default_and_each_item_once(api: TestClient, tenant: str) -> None:
    assert ids(api, tenant) == NEWEST_FIRST  # p02 was stored twice, listed once
    body = api.get("/v1/posts", params={"total": True}, headers=as_tenant(api, tenant)).json()
    assert body["total"] == 12
    first = body["data"][-1]
    assert first["text"] == "Text p01 says hello"
    assert first["decision"] == "approve"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"decision": "reject"}, {"p02", "p04", "p08"}),
        ({"decision": ["reject", "review"]}, {"p02", "p03", "p04", "p06", "p07", "p08", "p10"}),
        ({"label": "insult"}, {"p02", "p08"}),
        ({"label": "insult", "min_score": 0.4}, {"p02", "p07", "p08"}),
        ({"label": "threat", "decision": "reject"}, {"p04", "p08"}),
        ({"author": "bob"}, {"p02", "p05", "p08", "p12"}),
        ({"lang": "ar"}, {"p03", "p07"}),
        ({"source": "x"}, {"p05", "p09"}),
        ({"kind": "chat_message"}, {"p03", "p07"}),
        (
            {"occurred_from": T0.replace(minute=5).isoformat(),
             "occurred_to": T0.replace(minute=7).isoformat()},
            {"p06", "p07", "p08", "p09"},
        ),
        ({"judged_from": T0.replace(hour=11).isoformat()}, {"p10"}),
        ({"judged_to": T0.replace(minute=1).isoformat()}, {"p01"}),
        ({"q": "P07 SAYS"}, {"p07"}),
        ({"q": "nothing like it"}, set()),
        ({"author": "bob", "lang": "en", "decision": "approve"}, {"p05", "p12"}),
    ],
)  # fmt: skip
def test_filters(api: TestClient, tenant: str, params: dict[str, Any], expected: set[str]) -> None:
    assert set(ids(api, tenant, **params)) == expected


def test_sorts(api: TestClient, tenant: str) -> None:
    assert ids(api, tenant, order="asc") == NEWEST_FIRST[::-1]
    by_toxic = ids(api, tenant, sort="toxic")
    assert by_toxic[:3] == ["p08", "p02", "p04"]
    assert ids(api, tenant, sort="judged_at")[0] == "p10"


@pytest.mark.parametrize("sort", ["occurred_at", "judged_at", "toxic"])
@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("limit", [1, 5, 12])
def test_pages_cover_every_item_once(
    api: TestClient, tenant: str, sort: str, order: str, limit: int
) -> None:
    """Ties (three items share one minute) and an exact last page included."""
    seen: list[str] = []
    params: dict[str, Any] = {"sort": sort, "order": order, "limit": limit}
    for _ in range(20):
        body = api.get("/v1/posts", params=params, headers=as_tenant(api, tenant)).json()
        assert body["count"] == len(body["data"]) <= limit
        seen += [item["event_id"] for item in body["data"]]
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert sorted(seen) == sorted(NEWEST_FIRST)
    assert seen == ids(api, tenant, sort=sort, order=order)


def test_an_empty_result_has_no_next(api: TestClient) -> None:
    body = api.get("/v1/posts", headers=as_tenant(api, new_tenant())).json()
    assert body == {"data": [], "count": 0, "next": None, "total": None}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"cursor": "garbage!"}, 422, "invalid_request"),
        ({"limit": 0}, 422, "invalid_request"),
        ({"limit": 1001}, 422, "invalid_request"),
        ({"decision": "maybe"}, 422, "invalid_request"),
        ({"sort": "author"}, 422, "invalid_request"),
        ({"occurred_from": "2026-01-01T00:00:00"}, 422, "invalid_request"),
        ({"label": "x'; DROP TABLE verdicts; --"}, 422, "invalid_request"),
        ({"unknown": "1"}, 422, "invalid_request"),
        ({"format": "xml"}, 422, "invalid_request"),
    ],
)
def test_bad_requests_share_the_error_shape(
    api: TestClient, tenant: str, params: dict[str, Any], status: int, code: str
) -> None:
    response = api.get("/v1/posts", params=params, headers=as_tenant(api, tenant))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_any_cursor_is_a_position(api: TestClient, tenant: str) -> None:
    """A cursor written by hand pages on from the position it names, under the request's sort."""
    everything = ids(api, tenant, sort="toxic", order="asc")
    body = api.get(
        "/v1/posts", params={"sort": "toxic", "order": "asc", "cursor": "0.5~"},
        headers=as_tenant(api, tenant),
    ).json()  # fmt: skip
    above = [i["event_id"] for i in body["data"]]
    assert above == everything[len(everything) - len(above) :]
    assert above
    assert all(i["toxic"] >= 0.5 for i in body["data"])
    with_time = api.get(
        "/v1/posts", params={"cursor": "-5e99~anything"}, headers=as_tenant(api, tenant)
    )  # newest first, after a time before every row: nothing left
    assert with_time.status_code == 200
    assert with_time.json()["data"] == []


def test_a_cursor_never_reaches_another_tenant(api: TestClient, tenant: str) -> None:
    other = new_tenant()
    first = api.get("/v1/posts", params={"limit": 1}, headers=as_tenant(api, tenant)).json()
    assert first["next"]
    response = api.get("/v1/posts", params={"cursor": first["next"]}, headers=as_tenant(api, other))
    assert response.json()["data"] == []


def test_user_input_is_data_not_sql(api: TestClient, tenant: str) -> None:
    assert ids(api, tenant, author="bob' OR '1'='1") == []
    assert ids(api, tenant, q="%' OR 1=1 --") == []
    assert ids(api, new_tenant(), q="says") == []  # text search stays inside the tenant


def test_csv_export_streams_every_match(api: TestClient, tenant: str) -> None:
    response = api.get(
        "/v1/posts", params={"format": "csv", "author": "bob"}, headers=as_tenant(api, tenant)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["event_id"] for r in rows] == ["p12", "p08", "p05", "p02"]
    assert json.loads(rows[1]["scores"])["threat"] == pytest.approx(0.95)
    assert rows[1]["text"] == "Text p08 says hello"
    assert rows[0]["duplicate_of"] == "p01"


def test_ndjson_export_from_a_cursor(api: TestClient, tenant: str) -> None:
    first = api.get("/v1/posts", params={"limit": 4}, headers=as_tenant(api, tenant)).json()
    response = api.get(
        "/v1/posts", params={"format": "ndjson", "cursor": first["next"]},
        headers=as_tenant(api, tenant),
    )  # fmt: skip
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [v["event_id"] for v in lines] == NEWEST_FIRST[4:]
    bad = api.get("/v1/posts", params={"format": "ndjson", "cursor": "nope"})
    assert bad.status_code == 422  # refused before the stream starts


def test_verdict_detail_has_text_and_duplicate_matches(api: TestClient, tenant: str) -> None:
    original = api.get("/v1/verdicts/p01", headers=as_tenant(api, tenant)).json()
    assert original["text"] == "Text p01 says hello"
    assert original["reused_by"] == ["p11", "p12"]
    assert original["duplicate_of"] is None
    copy = api.get("/v1/verdicts/p11", headers=as_tenant(api, tenant)).json()
    assert copy["duplicate_of"] == "p01"
    assert copy["reused_by"] == []
    detail = api.get("/v1/verdicts/p08", headers=as_tenant(api, tenant)).json()
    assert detail["scores"]["threat"] == pytest.approx(0.95)
    assert detail["spans"] == [[0, 3]]
    assert detail["model_version"] == "m1"
    assert detail["policy_version"] == "p1"
    missing = api.get("/v1/verdicts/p08", headers=as_tenant(api, new_tenant()))
    assert missing.status_code == 404
