"""The moderator console without a browser: sign-in and its cookie, CSRF on every form, the
anonymous caller sent to sign in from every page, and a claim and removal through the forms
reaching `moderation.actions` (the browser drives the same in tests/integration/test_console.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.console.chart import stacked
from api.console.markup import Run, clock, highlight
from api.review import items
from api.review.items import Subject
from schemas.moderation import Origin
from tests.support.accounts import PASSWORD, make_user, state_of
from tests.support.fakes import RecordingPublisher
from tests.support.read_rows import new_tenant
from tests.support.routes import console_routes

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def browser(api: TestClient) -> Iterator[TestClient]:
    """A client of the same app with a cookie jar of its own, over https (the cookies are
    Secure outside development) and without the `api` fixture's token."""
    client = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    yield client  # not entered: the app's lifespan (broker, warehouse) never runs in this tier
    client.close()


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    form = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": csrf_of(form.text), "next": "/console"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"


def enqueue(api: TestClient, tenant: str, event_id: str) -> int:
    subject = Subject(
        tenant=tenant, event_id=event_id, item_id=event_id, author="author-1", source="comments",
        kind="post", occurred_at=datetime.now(UTC), lang="en", scores={"toxic": 0.7, "insult": 0.6},
        toxic=0.7, model_decision="review",
    )  # fmt: skip
    with state_of(api).accounts.session() as session:
        entry = items.enqueue(
            session, subject, strikes=0, now=datetime.now(UTC), origin=Origin.VERDICT
        )
        return entry.id


def test_highlight_marks_merged_clipped_spans() -> None:
    assert highlight("you idiot fool", [(10, 40), (4, 9), (0, 0)]) == [
        Run("you ", False), Run("idiot", True), Run(" ", False), Run("fool", True),
    ]  # fmt: skip
    assert highlight("", [(0, 3)]) == []
    assert (clock(2460), clock(-3720)) == ("41m left", "overdue 1h 02m")


@pytest.mark.parametrize("route", console_routes(), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_callers_are_sent_to_sign_in(browser: TestClient, route: tuple[str, str]) -> None:
    method, template = route
    if template == "/console/login":
        return
    path = template.format(queue="default", item=1, author="x")
    response = browser.request(method, path, data={})
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/console/login?next=")


def test_sign_in_sets_a_strict_http_only_secure_cookie(
    api: TestClient, browser: TestClient
) -> None:
    tenant = new_tenant()
    email = make_user(api, tenant, "moderator")
    form = browser.get("/console/login")
    assert "Content-Security-Policy" in form.headers
    no_csrf = browser.post("/console/login", data={"email": email, "password": PASSWORD})
    assert (no_csrf.status_code, "form expired" in no_csrf.text) == (401, True)
    wrong = browser.post(
        "/console/login", data={"email": email, "password": "nope", "csrf": csrf_of(form.text)}
    )
    assert (wrong.status_code, "wrong email or password" in wrong.text) == (401, True)
    good = browser.post(
        "/console/login", data={"email": email, "password": PASSWORD, "csrf": csrf_of(form.text),
                                "next": "https://evil.example/"},
    )  # fmt: skip
    assert (good.status_code, good.headers["location"]) == (303, "/console")  # no open redirect
    cookie = next(
        c for c in good.headers.get_list("set-cookie") if c.startswith("modstream_console=")
    )
    assert {"HttpOnly", "SameSite=strict", "Secure", "Path=/console"} <= {
        part.strip() for part in cookie.split(";")
    }
    page = browser.get("/console")
    assert page.status_code == 200
    assert email in page.text


def test_claim_and_remove_through_the_forms(
    api: TestClient, browser: TestClient, published: RecordingPublisher
) -> None:
    tenant = new_tenant()
    email = make_user(api, tenant, "moderator")
    ident = enqueue(api, tenant, f"{tenant}-e1")
    sign_in(browser, email)
    queue = browser.get("/console/queues/default")
    assert f"#{ident}" in queue.text
    csrf = csrf_of(queue.text)

    forged = browser.post(f"/console/items/{ident}/claim", data={"csrf": "forged"})
    assert forged.status_code == 403
    claimed = browser.post(
        f"/console/items/{ident}/claim", data={"csrf": csrf, "back": "/console/queues/default"}
    )
    assert (claimed.status_code, claimed.headers["location"]) == (303, "/console/queues/default")
    assert "Claimed item" in browser.get("/console/queues/default").text

    removal = {"csrf": csrf, "action": "remove", "reason": "insult", "note": "name-calling",
               "back": "/console/queues/default"}  # fmt: skip
    assert browser.post(f"/console/items/{ident}/decision", data=removal).status_code == 303
    after = browser.get("/console/queues/default").text
    assert "remove (Insults and abuse)" in after
    assert f"#{ident}" not in after
    [action] = [
        json.loads(v) for t, _, v in published.published
        if t == "moderation.actions" and json.loads(v)["tenant"] == tenant
    ]  # fmt: skip
    assert (action["action"], action["reason"], action["reviewer"]) == (
        "remove", "insult", f"user:{email}",
    )  # fmt: skip
    item = browser.get(f"/console/items/{ident}").text
    assert re.search(rf"<strong>remove</strong> by user:{re.escape(email)}", item)

    out = browser.post("/console/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert browser.get("/console").status_code == 303


def test_analytics_without_a_warehouse_says_so(api: TestClient, browser: TestClient) -> None:
    sign_in(browser, make_user(api, new_tenant(), "member"))
    page = browser.get("/console/analytics?period=24h")
    assert (page.status_code, "did not answer" in page.text) == (200, True)
    assert browser.get("/console/analytics?period=1y").status_code == 422


def test_operations_shows_the_audit_log_to_admins(api: TestClient, browser: TestClient) -> None:
    email = make_user(api, new_tenant(), "admin")
    sign_in(browser, email)
    page = browser.get("/console/operations")
    assert page.status_code == 200
    assert "The warehouse did not answer." in page.text  # the dead letters: no warehouse here
    audit = browser.get("/console/operations/audit").text
    assert re.search(rf"<td>user:{re.escape(email)}</td><td>login</td>", audit)


def test_stacked_chart_scales_to_a_round_peak() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    chart = stacked([(t0, {"review": 3, "reject": 1}), (t0, {})], "%H")
    assert (chart.peak, chart.ticks[-1][1]) == (4, "5")
    assert [k for k, _, _ in chart.keys] == ["review", "reject"]
    assert [b.css for b in chart.bars] == ["c-review", "c-reject"]


def test_members_without_the_moderate_scope_are_refused(
    api: TestClient, browser: TestClient
) -> None:
    sign_in(browser, make_user(api, new_tenant(), "member"))
    page = browser.get("/console")
    assert (page.status_code, "moderator or admin role" in page.text) == (403, True)


def test_a_moderator_of_another_tenant_neither_sees_nor_decides_an_item(
    api: TestClient, browser: TestClient, published: RecordingPublisher
) -> None:
    """The console's pages act for the session's tenant only (tests/integration/test_isolation.py
    checks the API's routes; these pages call the same functions with the session's tenant)."""
    owner, intruder = new_tenant(), new_tenant()
    ident = enqueue(api, owner, f"{owner}-e1")
    sign_in(browser, make_user(api, intruder, "moderator"))
    queue = browser.get("/console/queues/default")
    assert queue.status_code == 200
    assert f"#{ident}" not in queue.text
    assert browser.get(f"/console/items/{ident}").status_code == 404
    csrf = csrf_of(queue.text)
    back = "/console/queues/default"
    browser.post(f"/console/items/{ident}/claim", data={"csrf": csrf, "back": back})
    removal = {"csrf": csrf, "action": "remove", "reason": "insult", "back": back}
    browser.post(f"/console/items/{ident}/decision", data=removal)
    with state_of(api).accounts.session() as session:
        item = items.get(session, owner, ident)
        assert (item.state, item.claimed_by) == ("open", None)
    assert not [
        v for t, _, v in published.published
        if t == "moderation.actions" and json.loads(v)["tenant"] in (owner, intruder)
    ]  # fmt: skip
