"""Who sees what in the console's newer pages, without a browser: a reviewer works only in the
queues granted to it (the review routes' own check), and the item media, live feed and item
pages act for the session's tenant only (tests/unit/test_console.py checks the first pages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.accounts.service import Principal
from api.console.feed_page import ConsoleFeedQuery
from api.review import grants, items
from api.review.items import Subject
from schemas.events import Kind
from schemas.moderation import Origin
from tests.support.accounts import make_user, state_of
from tests.support.fakes import RecordingPublisher
from tests.support.read_rows import new_tenant
from tests.unit.test_console import csrf_of, enqueue, sign_in


@pytest.fixture
def browser(api: TestClient) -> Iterator[TestClient]:
    """A client of the app with a cookie jar of its own, over https (tests/unit/test_console.py)."""
    client = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    yield client
    client.close()


def grant(api: TestClient, tenant: str, email: str, queues: list[str]) -> None:
    with state_of(api).accounts.session() as session:
        grants.put(session, tenant=tenant, reviewer=f"user:{email}", queues=queues, by="tests",
                   now=datetime.now(UTC))  # fmt: skip


def enqueue_media(api: TestClient, tenant: str, event_id: str) -> int:
    subject = Subject(
        tenant=tenant, event_id=event_id, item_id=event_id, author="owner-1", source="media",
        kind=Kind.MEDIA.value, occurred_at=datetime.now(UTC), lang="und", scores={}, toxic=0.0,
        model_decision="review",
    )  # fmt: skip
    with state_of(api).accounts.session() as session:
        return items.enqueue(
            session, subject, strikes=0, now=datetime.now(UTC), origin=Origin.VERDICT
        ).id


def test_a_reviewer_works_in_its_granted_queues_only(
    api: TestClient, browser: TestClient, published: RecordingPublisher
) -> None:
    tenant = new_tenant()
    outside = enqueue(api, tenant, f"{tenant}-e1")  # the default queue
    email = make_user(api, tenant, "reviewer")
    sign_in(browser, email)
    none_yet = browser.get("/console")
    assert (none_yet.status_code, "No queue is granted to you yet" in none_yet.text) == (200, True)

    grant(api, tenant, email, ["appeals"])
    listed = browser.get("/console")
    assert "/console/queues/appeals" in listed.text
    assert "/console/queues/default" not in listed.text
    refused = browser.get("/console/queues/default")
    assert (refused.status_code, "is not granted to user:" in refused.text) == (403, True)
    assert browser.get(f"/console/items/{outside}").status_code == 404
    csrf = csrf_of(listed.text)
    back = "/console/queues/appeals"
    browser.post(f"/console/items/{outside}/claim", data={"csrf": csrf, "back": back})
    with state_of(api).accounts.session() as session:
        assert items.get(session, tenant, outside).claimed_by is None

    grant(api, tenant, email, ["default"])  # now granted: the same reviewer claims and decides
    claimed = browser.post(f"/console/items/{outside}/claim", data={"csrf": csrf, "back": back})
    assert claimed.status_code == 303
    removal = {"csrf": csrf, "action": "remove", "reason": "insult", "back": back}
    assert browser.post(f"/console/items/{outside}/decision", data=removal).status_code == 303
    [action] = [
        json.loads(v) for t, _, v in published.published
        if t == "moderation.actions" and json.loads(v)["tenant"] == tenant
    ]  # fmt: skip
    assert (action["action"], action["reviewer"]) == ("remove", f"user:{email}")
    # Reads across the tenant are the API's to refuse a reviewer, and the console's too.
    for page in ("/console/authors/author-1", "/console/feed", "/console/analytics",
                 "/console/operations", "/console/rules"):  # fmt: skip
        refused = browser.get(page)
        assert (refused.status_code, "reviews granted queues only" in refused.text) == (403, True)
    assert 'href="/console/analytics"' not in listed.text
    assert 'href="/console/rules"' not in listed.text


def test_another_tenants_media_and_item_pages_are_not_found(
    api: TestClient, browser: TestClient
) -> None:
    owner, intruder = new_tenant(), new_tenant()
    media = enqueue_media(api, owner, f"{owner}-m1")
    sign_in(browser, make_user(api, intruder, "moderator"))
    for path in (f"/console/items/{media}", f"/console/items/{media}/media"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert owner not in response.text


def test_item_media_is_served_only_for_media_items(api: TestClient, browser: TestClient) -> None:
    tenant = new_tenant()
    text = enqueue(api, tenant, f"{tenant}-e1")
    media = enqueue_media(api, tenant, f"{tenant}-m1")
    sign_in(browser, make_user(api, tenant, "moderator"))
    not_media = browser.get(f"/console/items/{text}/media")
    assert (not_media.status_code, "not an image or a video" in not_media.text) == (404, True)
    page = browser.get(f"/console/items/{media}")  # no warehouse in this tier: no verdict yet
    assert page.status_code == 200
    assert "The media verdict is not in the warehouse (yet)" in page.text
    unstored = browser.get(f"/console/items/{media}/media")
    assert (unstored.status_code, "not stored (yet)" in unstored.text) == (404, True)


def test_the_feed_filters_by_the_sessions_tenant_and_scopes(
    api: TestClient, browser: TestClient
) -> None:
    def principal(scopes: frozenset[str]) -> Principal:
        return Principal(tenant="t1", tenant_id=1, scopes=scopes, email="a@example.com")

    query = ConsoleFeedQuery(kind=Kind.POST, lang="en")
    mine = {"tenant": "t1", "kind": "post", "lang": "en", "decision": "review", "scores": {}}
    reader = query.feed_filter(principal(frozenset({"read"})))
    assert reader.matches(mine)
    assert not reader.matches(mine | {"tenant": "t2"})  # the session's tenant, never the query's
    assert not reader.matches(mine | {"lang": "ar"})
    chat = ConsoleFeedQuery().feed_filter(principal(frozenset({"read"})))
    assert not chat.matches(mine | {"kind": "chat_message"})  # private without `private`
    allowed = ConsoleFeedQuery().feed_filter(principal(frozenset({"read", "private"})))
    assert allowed.matches(mine | {"kind": "chat_message"})

    sign_in(browser, make_user(api, new_tenant(), "member"))
    page = browser.get("/console/feed?decision=reject&kind=post&lang=en")
    assert page.status_code == 200
    assert "The live feed is not running" in page.text  # no hub in this tier
    assert browser.get("/console/feed?kind=chat_message").status_code == 200
    assert browser.get("/console/feed?lang=English").status_code == 422
    assert browser.get("/console/feed/stream").status_code == 503
