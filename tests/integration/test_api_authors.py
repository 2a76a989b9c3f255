"""`GET /v1/authors` and `/v1/authors/{id}`: statistics, sorting, paging, replays counted once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.rollups import refresh
from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant, store, verdict_row


@pytest.fixture(scope="module")
def tenant(warehouse: Warehouse) -> str:
    name = new_tenant()
    rows = [
        verdict_row(name, "a1", minutes=0, toxic=0.9, author="bob",
                    scores={"toxic": 0.9, "insult": 0.8}),
        verdict_row(name, "a2", minutes=1, toxic=0.95, author="bob", lang="ar"),
        verdict_row(name, "a3", minutes=2, toxic=0.1, author="bob"),
        verdict_row(name, "a4", minutes=3, toxic=0.6, author="carol"),
        verdict_row(name, "a5", minutes=4, toxic=0.1, author="alice"),
        verdict_row(name, "a6", minutes=5, toxic=0.1, author="alice"),
        verdict_row(name, "a7", minutes=6, toxic=0.15, author="alice"),
        verdict_row(name, "a8", minutes=7, toxic=0.7, author="alice"),
    ]  # fmt: skip
    store(warehouse, rows)
    store(warehouse, rows[:2])  # a replay of bob's two harmful items
    refresh(warehouse)
    return name


def get(api: TestClient, tenant: str, path: str, **params: Any) -> Any:
    response = api.get(path, params=params, headers=as_tenant(api, tenant))
    assert response.status_code == 200, response.text
    return response.json()


def test_one_author_in_full(api: TestClient, tenant: str) -> None:
    bob = get(api, tenant, "/v1/authors/bob")
    assert bob["items"] == 3  # the replay is not counted
    assert bob["decisions"] == {"approve": 1, "review": 0, "reject": 2}
    assert bob["strikes"] == 2
    assert bob["harmful"] == 2
    assert bob["harmful_share"] == pytest.approx(2 / 3)
    assert bob["labels"] == {"toxic": 2, "insult": 1}
    assert bob["languages"] == {"en": 2, "ar": 1}
    assert bob["first_seen"] < bob["last_seen"]


def test_an_unknown_author_is_a_404(api: TestClient, tenant: str) -> None:
    response = api.get("/v1/authors/nobody", headers=as_tenant(api, tenant))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get("/v1/authors/bob", headers=as_tenant(api, new_tenant())).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["bob", "carol", "alice"]),  # most harmful first; ties by author, descending
        ({"sort": "harmful_share"}, ["carol", "bob", "alice"]),
        ({"sort": "items"}, ["alice", "bob", "carol"]),
        ({"sort": "strikes"}, ["bob", "carol", "alice"]),
        ({"sort": "items", "order": "asc"}, ["carol", "bob", "alice"]),
        ({"sort": "last_seen"}, ["alice", "carol", "bob"]),
        ({"sort": "first_seen", "order": "asc"}, ["bob", "carol", "alice"]),
        ({"min_items": 3}, ["bob", "alice"]),
    ],
)
def test_list_sorts(
    api: TestClient, tenant: str, params: dict[str, Any], expected: list[str]
) -> None:
    body = get(api, tenant, "/v1/authors", **params)
    assert [a["author"] for a in body["data"]] == expected
    assert body["next"] is None


def test_list_matches_the_detail(api: TestClient, tenant: str) -> None:
    listed = {a["author"]: a for a in get(api, tenant, "/v1/authors")["data"]}
    assert listed["bob"] == get(api, tenant, "/v1/authors/bob")


@pytest.mark.parametrize("sort", ["harmful", "harmful_share", "last_seen"])
def test_list_pages(api: TestClient, tenant: str, sort: str) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1, "sort": sort}
    while True:
        body = get(api, tenant, "/v1/authors", **params)
        seen += [a["author"] for a in body["data"]]
        if not body["next"]:
            break
        params["cursor"] = body["next"]
    assert seen == [a["author"] for a in get(api, tenant, "/v1/authors", sort=sort)["data"]]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"sort": "author; DROP"}, 422), ({"limit": 0}, 422), ({"cursor": "x"}, 422),
     ({"min_items": 0}, 422)],
)  # fmt: skip
def test_list_errors(api: TestClient, tenant: str, params: dict[str, Any], status: int) -> None:
    response = api.get("/v1/authors", params=params, headers=as_tenant(api, tenant))
    assert response.status_code == status
    assert "code" in response.json()["error"]


def test_a_rejudged_item_moves_between_decisions(
    api: TestClient, warehouse: Warehouse, tenant: str
) -> None:
    row = verdict_row(tenant, "a4", minutes=3, toxic=0.95, author="carol", judged_after_s=60)
    store(warehouse, [row])  # re-judged later with a higher score: replaces the first verdict
    refresh(warehouse)
    carol = next(a for a in get(api, tenant, "/v1/authors")["data"] if a["author"] == "carol")
    assert carol["items"] == 1
    assert carol["decisions"] == {"approve": 0, "review": 0, "reject": 1}
