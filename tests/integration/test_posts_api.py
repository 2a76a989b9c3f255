"""Posts and comments end to end: created over HTTP, published onto the embedded broker, judged by
the real worker, stored by the sink in chdb, read back as threads under each delivery mode."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.warehouse import Warehouse
from infra.warehouse.migrate import available
from infra.warehouse.sink import EVENTS
from schemas.strikes import BlockAction, BlockChange
from tests.support.accounts import as_tenant, login, make_user, state_of
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker

TOXIC = "You are a pathetic idiot, shut up you stupid loser"
WAIT = {"wait": "10s"}


def thread(api: TestClient, post_id: str, headers: dict[str, str], **params: Any) -> Any:
    response = api.get(f"/v1/posts/{post_id}/thread", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def judged(api: TestClient, post_id: str, item_id: str, headers: dict[str, str]) -> Any:
    """The item in its thread once it is stored and judged."""

    def find() -> Any:
        body = thread(api, post_id, headers, limit=1000)
        found = [i for i in [body["post"], *body["comments"]] if i["id"] == item_id]
        return found[0] if found and found[0]["status"] != "pending" else None

    return wait_for(find, 60, what=f"the verdict of {item_id}")


def create(
    api: TestClient, headers: dict[str, str], body: dict[str, Any], parent: str | None = None
) -> Any:
    path = f"/v1/posts/{parent}/comments" if parent else "/v1/posts"
    response = api.post(path, json=body, headers=headers, params=WAIT)
    assert response.status_code in (201, 202), response.text
    item = response.json()
    assert (response.status_code == 201) == (item["status"] != "pending")
    return item


@pytest.fixture
def mode(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set a tenant's thread mode (the API reads it per request from its settings)."""
    state = state_of(api)

    def set_mode(tenant: str, value: str) -> None:
        posts = state.settings.posts.model_copy(update={"modes": {tenant: value}})
        settings = state.settings.model_copy(update={"posts": posts})
        monkeypatch.setattr(state, "settings", settings)

    return set_mode


def test_posts_comments_and_replies_are_judged_and_shown_per_mode(
    api: TestClient, worker: Worker, warehouse: Warehouse, mode: Any
) -> None:
    tenant = new_tenant()
    alice, bob = make_user(api, tenant, "member"), make_user(api, tenant, "member")
    as_alice, as_bob = login(api, alice), login(api, bob)
    service = as_tenant(api, tenant, ("ingest", "read"))

    post = create(api, as_alice, {"text": "What a match last night, what a finish", "lang": "en"})
    assert post["author"] == alice
    assert post["parent_id"] is None
    assert post["post_id"] == post["id"]
    assert post["text"] == "What a match last night, what a finish"  # its author sees it
    comment = create(api, as_bob, {"text": "Agreed, the second half was brilliant"}, post["id"])
    assert (comment["author"], comment["parent_id"], comment["post_id"]) == (
        bob, post["id"], post["id"],
    )  # fmt: skip
    reply = create(api, as_alice, {"text": "See you at the next one"}, comment["id"])
    assert (reply["parent_id"], reply["post_id"]) == (comment["id"], post["id"])
    toxic = create(api, service, {"text": TOXIC, "author": "troll-1"}, post["id"])
    assert toxic["author"] == "troll-1"

    for item in (post, comment, reply):
        shown = judged(api, post["id"], item["id"], as_bob)
        assert shown["status"] == "delivered"
        assert shown["verdict"]["decision"] in {"approve", "review"}
        assert shown["text"] == item["text"]
    rejected = judged(api, post["id"], toxic["id"], as_bob)
    assert rejected["verdict"]["decision"] == "reject"
    assert (rejected["status"], rejected["text"]) == ("withheld", None)  # the default mode

    # The reply carries the thread's earlier texts, parent first, to inform its verdict.
    rows = warehouse.rows(
        "SELECT payload FROM events FINAL WHERE tenant = {t:String} AND event_id = {e:String}",
        {"t": tenant, "e": reply["id"]},
    )
    payload = json.loads(rows[0]["payload"])
    assert payload["context"] == [comment["text"], post["text"]]
    assert (payload["parent_id"], payload["thread_id"]) == (comment["id"], post["id"])

    body = thread(api, post["id"], as_bob)
    assert body["post"]["id"] == post["id"]
    assert [c["id"] for c in body["comments"]] == [comment["id"], reply["id"], toxic["id"]]
    assert body["count"] == 3
    assert body["next"] is None

    mode(tenant, "mask")
    masked = thread(api, post["id"], as_bob)["comments"][2]
    assert (masked["status"], masked["masked"], masked["flagged"]) == ("masked", True, False)
    assert "*" in masked["text"]
    assert masked["text"] != TOXIC
    assert len(masked["text"]) == len(TOXIC)

    mode(tenant, "flag")
    flagged = thread(api, post["id"], as_bob)["comments"][2]
    assert (flagged["status"], flagged["flagged"], flagged["text"]) == ("flagged", True, TOXIC)

    first = thread(api, post["id"], as_bob, limit=2)
    assert [c["id"] for c in first["comments"]] == [comment["id"], reply["id"]]
    rest = thread(api, post["id"], as_bob, limit=2, cursor=first["next"])
    assert [c["id"] for c in rest["comments"]] == [toxic["id"]]
    assert rest["next"] is None
    bad = api.get(f"/v1/posts/{post['id']}/thread", headers=as_bob, params={"cursor": "xyz"})
    assert bad.status_code == 422  # not `<key>~<id>`


def _store(
    warehouse: Warehouse, tenant: str, rows: list[tuple[str, str, str, dict[str, Any]]]
) -> None:
    """Events as the sink stores them, with no verdict (yet)."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    events = [
        [tenant, event_id, "posts", "post", event_id, author, at + timedelta(seconds=n), at,
         "", text, json.dumps({"external_id": event_id, "author": author, "text": text} | extra),
         ""]
        for n, (event_id, author, text, extra) in enumerate(rows)
    ]  # fmt: skip
    warehouse.insert(EVENTS.name, events, EVENTS.columns)


def test_items_not_judged_yet_are_pending_and_held_from_readers(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    author = make_user(api, tenant, "member")
    _store(warehouse, tenant, [
        ("post-p1", author, "a post still being judged", {}),
        ("comment-c1", "someone", "a comment still being judged",
         {"parent_id": "post-p1", "thread_id": "post-p1"}),
    ])  # fmt: skip
    reader = thread(api, "post-p1", as_tenant(api, tenant, ("read",)))
    assert reader["post"]["status"] == "pending"
    assert reader["post"]["verdict"] is None
    assert reader["post"]["text"] is None
    assert [(c["id"], c["status"], c["text"]) for c in reader["comments"]] == [
        ("comment-c1", "pending", None)
    ]
    mine = thread(api, "post-p1", login(api, author))
    assert mine["post"]["text"] == "a post still being judged"  # its author sees it
    assert mine["comments"][0]["text"] is None
    # The comments' index is rebuilt from `events` when its migration runs again: no doubles.
    (rebuild,) = [m for m in available() if m.name == "comments_by_thread"]
    for statement in rebuild.statements():
        warehouse.command(statement)
    again = thread(api, "post-p1", as_tenant(api, tenant, ("read",)))
    assert [c["id"] for c in again["comments"]] == ["comment-c1"]


def test_unknown_posts_are_404(api: TestClient, warehouse: Warehouse) -> None:
    tenant = new_tenant()
    headers = as_tenant(api, tenant)
    _store(warehouse, tenant, [
        ("post-k1", "a", "a post", {}),
        ("comment-k1", "b", "a comment", {"parent_id": "post-k1", "thread_id": "post-k1"}),
    ])  # fmt: skip
    missing = api.get("/v1/posts/post-nope/thread", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.get("/v1/posts/comment-k1/thread", headers=headers).status_code == 404
    comment = api.post(
        "/v1/posts/post-nope/comments", headers=headers, json={"text": "hi", "author": "a"}
    )
    assert comment.status_code == 404


def test_blocked_authors_are_refused(api: TestClient) -> None:
    tenant = new_tenant()
    user = make_user(api, tenant, "member")
    blocks = state_of(api).blocks
    for author in ("troll-9", user):
        blocks.apply(
            BlockChange(
                change_id=f"block-{tenant}-{author}", tenant=tenant, author=author,
                action=BlockAction.BLOCK, at=datetime.now(UTC), actor="strikes", strikes=5,
            )
        )  # fmt: skip
    service = as_tenant(api, tenant, ("ingest", "read"))
    refused = api.post("/v1/posts", headers=service, json={"text": "hi", "author": "troll-9"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "author_blocked"
    as_user = login(api, user)
    assert api.post("/v1/posts", headers=as_user, json={"text": "hi"}).status_code == 403
    allowed = api.post("/v1/posts", headers=service, json={"text": "hi", "author": "fine-1"})
    assert allowed.status_code == 202
    assert allowed.json()["status"] == "pending"


def test_another_tenant_can_neither_read_nor_comment(
    api: TestClient, warehouse: Warehouse, other_tenant: dict[str, str]
) -> None:
    tenant = new_tenant()
    _store(warehouse, tenant, [("post-iso", "a", "a private post", {})])
    mine = as_tenant(api, tenant)
    assert thread(api, "post-iso", mine)["post"]["id"] == "post-iso"
    assert api.get("/v1/posts/post-iso/thread", headers=other_tenant).status_code == 404
    sneaky = api.post(
        "/v1/posts/post-iso/comments", headers=other_tenant, json={"text": "hi", "author": "b"}
    )
    assert sneaky.status_code == 404
    time.sleep(1.0)  # anything published would be stored by now
    assert thread(api, "post-iso", mine)["comments"] == []
