"""Who may review what, through the API: a `reviewer` works only in the queues an admin granted
it and does no admin work; chat messages in queues are private (redacted, skipped by claims,
refused by the item routes) unless the caller has the `private` scope, and those reads are
audited. Beyond the review routes, a reviewer reads items only in its queues and nothing across
the tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from api.review import items
from api.review.items import Subject
from schemas.moderation import Origin
from tests.support.accounts import as_tenant, bearer, create_token, login, make_user, state_of
from tests.support.read_rows import new_tenant

NOW = datetime.now(UTC)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response: Any, code: str, status: int = 403) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def enqueue(api: TestClient, tenant: str, n: int, *, lang: str, kind: str = "post") -> int:
    subject = Subject(
        tenant=tenant, event_id=f"e{n}", item_id=str(n), author="a1", source="chat",
        kind=kind, occurred_at=NOW, lang=lang, scores={"toxic": 0.6}, toxic=0.6 - n / 100,
        model_decision="review",
    )  # fmt: skip
    with state_of(api).accounts.session() as session:
        entry = items.enqueue(session, subject, strikes=0, now=NOW, origin=Origin.VERDICT)
        return entry.id


def setup(api: TestClient) -> tuple[str, dict[str, str], dict[str, int]]:
    """A tenant with an `arabic` queue holding a post and a chat message, and a post in
    `default`; returns the tenant, its admin and the entries' ids."""
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    ok(api.put("/v1/review/queues/arabic", json={"langs": ["ar"], "position": 1}, headers=admin))
    ids = {
        "ar": enqueue(api, tenant, 1, lang="ar"),
        "chat": enqueue(api, tenant, 2, lang="ar", kind="chat_message"),
        "en": enqueue(api, tenant, 3, lang="en"),
    }
    return tenant, admin, ids


def test_a_reviewer_works_only_in_granted_queues(api: TestClient) -> None:
    tenant, admin, ids = setup(api)
    email = make_user(api, tenant, "reviewer")
    reviewer = login(api, email)
    assert ok(api.get("/v1/review/queues", headers=reviewer)) == []
    message = refused(api.post("/v1/review/queues/arabic/claim", headers=reviewer),
                      "queue_not_granted")  # fmt: skip
    assert f"PUT /v1/review/grants/user:{email}" in message

    grant = ok(api.put(f"/v1/review/grants/user:{email.upper()}",
                       json={"queues": ["arabic"]}, headers=admin))  # fmt: skip
    assert grant == {"reviewer": f"user:{email}", "queues": ["arabic"]}
    assert [q["name"] for q in ok(api.get("/v1/review/queues", headers=reviewer))] == ["arabic"]
    refused(api.get("/v1/review/queues/default/items", headers=reviewer), "queue_not_granted")
    refused(api.post("/v1/review/queues/default/claim", headers=reviewer), "queue_not_granted")
    refused(api.get(f"/v1/review/items/{ids['en']}", headers=reviewer), "queue_not_granted")
    refused(api.post(f"/v1/review/items/{ids['en']}/claim", headers=reviewer), "queue_not_granted")

    claimed = ok(api.post("/v1/review/queues/arabic/claim", headers=reviewer))
    assert claimed["id"] == ids["ar"]
    body = {"action": "remove", "reason": "insult"}
    decided = ok(api.post(f"/v1/review/items/{ids['ar']}/decision", json=body, headers=reviewer))
    assert decided["action"]["reviewer"] == f"user:{email}"
    assert api.post("/v1/review/queues/arabic/claim", headers=reviewer).status_code == 204
    refused(api.post(f"/v1/review/items/{ids['en']}/reassign", json={"reviewer": "user:x"},
                     headers=reviewer), "insufficient_scope")  # fmt: skip

    ok(api.delete(f"/v1/review/grants/user:{email}", headers=admin), 204)
    refused(api.get("/v1/review/queues/arabic/items", headers=reviewer), "queue_not_granted")
    audit = ok(api.get("/v1/audit", params={"action": "review.grant"}, headers=admin))
    assert [e["target"] for e in audit] == [f"user:{email}"] * 2


def test_a_reviewer_does_no_admin_work(api: TestClient) -> None:
    tenant, _, _ = setup(api)
    reviewer = login(api, make_user(api, tenant, "reviewer"))
    for method, path, body in [
        ("PUT", "/v1/tenant/policy", {"toxic": {"low": 0.1, "high": 0.9}}),
        ("PUT", "/v1/tenant/rules", {"source": ""}),
        ("POST", "/v1/webhooks", {"url": "https://example.com/hook"}),
        ("GET", "/v1/review/grants", None),
        ("PUT", "/v1/review/grants/user:x@example.com", {"queues": ["arabic"]}),
        ("PUT", "/v1/review/queues/arabic", {"langs": ["ar"]}),
        ("GET", "/v1/review/agreement", None),
        ("GET", "/v1/users", None),
    ]:
        response = api.request(method, path, json=body, headers=reviewer)
        assert response.status_code == 403, (path, response.text)
    mine = create_token(api, reviewer, ["review"])  # its own token, at most its own scopes
    assert mine["scopes"] == ["review"]
    wider = api.post("/v1/tokens", json={"name": "x", "scopes": ["moderate"]}, headers=reviewer)
    refused(wider, "insufficient_scope")


def test_tokens_with_the_review_scope_take_their_own_and_their_owners_grants(
    api: TestClient,
) -> None:
    tenant, admin, ids = setup(api)
    app = create_token(api, admin, ["review"], name="review desk")
    as_app = bearer(app["token"])
    refused(api.get("/v1/review/queues/arabic/items", headers=as_app), "queue_not_granted")
    ok(api.put(f"/v1/review/grants/token:{app['id']}", json={"queues": ["default"]},
               headers=admin))  # fmt: skip
    assert ok(api.post("/v1/review/queues/default/claim", headers=as_app))["id"] == ids["en"]

    email = make_user(api, tenant, "reviewer")
    ok(api.put(f"/v1/review/grants/user:{email}", json={"queues": ["arabic"]}, headers=admin))
    owned = bearer(create_token(api, login(api, email), ["read", "review"])["token"])
    assert ok(api.get("/v1/review/queues/arabic/items", headers=owned))["count"] == 2
    grants = ok(api.get("/v1/review/grants", headers=admin))
    assert grants == [
        {"reviewer": f"token:{app['id']}", "queues": ["default"]},
        {"reviewer": f"user:{email}", "queues": ["arabic"]},
    ]

    refused(api.put("/v1/review/grants/user:nobody@example.com", json={"queues": ["a"]},
                    headers=admin), "not_found", 404)  # fmt: skip
    other = create_token(api, as_tenant(api, new_tenant()), ["review"])
    refused(api.put(f"/v1/review/grants/token:{other['id']}", json={"queues": ["a"]},
                    headers=admin), "not_found", 404)  # fmt: skip
    bad = api.put("/v1/review/grants/team:x", json={"queues": ["a"]}, headers=admin)
    assert bad.status_code == 422
    ok(api.delete(f"/v1/review/grants/token:{app['id']}", headers=admin), 204)
    refused(api.delete(f"/v1/review/grants/token:{app['id']}", headers=admin), "not_found", 404)


def test_chat_messages_in_queues_need_the_private_scope_and_are_audited(api: TestClient) -> None:
    tenant, admin, ids = setup(api)
    moderator = as_tenant(api, tenant, ("read", "moderate"))
    page = ok(api.get("/v1/review/queues/arabic/items", headers=moderator))["data"]
    chat = next(i for i in page if i["id"] == ids["chat"])
    assert (chat["redacted"], chat["labels"], chat["toxic"]) == (True, [], None)
    plain = next(i for i in page if i["id"] == ids["ar"])
    assert (plain["redacted"], plain["labels"]) == (False, ["toxic"])
    message = refused(api.get(f"/v1/review/items/{ids['chat']}", headers=moderator),
                      "insufficient_scope")  # fmt: skip
    assert "private" in message
    refused(api.post(f"/v1/review/items/{ids['chat']}/claim", headers=moderator),
            "insufficient_scope")  # fmt: skip
    # Claims skip it: the post first, then nothing (the chat message is left for others).
    assert ok(api.post("/v1/review/queues/arabic/claim", headers=moderator))["id"] == ids["ar"]
    assert api.post("/v1/review/queues/arabic/claim", headers=moderator).status_code == 204
    assert not ok(api.get("/v1/audit", params={"action": "private.read"}, headers=admin))

    entitled = as_tenant(api, tenant, ("moderate", "private"))
    page = ok(api.get("/v1/review/queues/arabic/items", headers=entitled))["data"]
    assert next(i for i in page if i["id"] == ids["chat"])["labels"] == ["toxic"]
    assert ok(api.get(f"/v1/review/items/{ids['chat']}", headers=entitled))["toxic"] is not None
    assert ok(api.post("/v1/review/queues/arabic/claim", headers=entitled))["id"] == ids["chat"]
    audit = ok(api.get("/v1/audit", params={"action": "private.read"}, headers=admin))
    assert [e["target"] for e in reversed(audit)] == [
        "review_queue:arabic", f"review:{ids['chat']}", f"review:{ids['chat']}",
    ]  # fmt: skip


def test_the_grant_routes_are_documented_with_examples(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    put = document["paths"]["/v1/review/grants/{reviewer}"]["put"]
    assert put["parameters"][0]["schema"]["examples"] == ["user:ana@example.com", "token:12"]
    schemas = document["components"]["schemas"]
    assert schemas["GrantIn"]["examples"] == [{"queues": ["hate-ar", "appeals"]}]
    assert "review" in schemas["TokenCreate"]["properties"]["scopes"]["items"]["enum"]


def test_grants_limit_a_reviewers_reads_everywhere(api: TestClient) -> None:
    tenant, admin, ids = setup(api)
    email = make_user(api, tenant, "reviewer")
    reviewer = login(api, email)
    ok(api.put(f"/v1/review/grants/user:{email}", json={"queues": ["arabic"]}, headers=admin))

    # Reads across the tenant: refused, saying what a reviewer may read instead.
    for path in [
        "/v1/posts", "/v1/posts?kind=post", "/v1/analytics/overview", "/v1/analytics/timeseries",
        "/v1/analytics/breakdown?by=lang", "/v1/authors", "/v1/authors/a1",
        "/v1/authors/a1/strikes", "/v1/deadletters", "/v1/tenant", "/v1/tenant/policy",
        "/v1/media/banks",
    ]:  # fmt: skip
        message = refused(api.get(path, headers=reviewer), "reviewer_limited")
        assert "/v1/review/items/{review_item}" in message, path
        assert f"user:{email}" in message
    # The live feed refuses before the upgrade.
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        api.websocket_connect("/v1/verdicts/ws", headers=reviewer),
    ):
        pass
    refused(denied.value, "reviewer_limited")

    # Items: only those of its queues, whether they exist or not elsewhere.
    for path in ["/v1/verdicts/e3", "/v1/posts/e3/thread", "/v1/verdicts/unknown"]:
        message = refused(api.get(path, headers=reviewer), "item_not_granted")
        assert "granted: arabic" in message
    refused(api.get(f"/v1/review/items/{ids['en']}", headers=reviewer), "queue_not_granted")
    # A token of its own with the same scopes is held to the same grants.
    own = bearer(create_token(api, reviewer, ["read", "review"])["token"])
    refused(api.get("/v1/posts", headers=own), "reviewer_limited")
    refused(api.get("/v1/verdicts/e3", headers=own), "item_not_granted")
