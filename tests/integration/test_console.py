"""The moderator console in a real browser: Debian's headless Chromium, driven through
chromium-driver, against the `api` fixture's app served on a real port (uvicorn in the app's own
event loop, so its publisher and warehouse are the ones the routes use), with the real text
worker judging what is posted. A moderator signs in, sees the queue, claims an item and removes
it with the keyboard; the item leaves the queue and the removal appears in its history; the
author, analytics and operations pages follow. Every page loads without a console error, and each
is saved as a screenshot into docs/console/ (docs/console.md shows them)."""

from __future__ import annotations

import base64
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from infra.processes import free_port
from infra.settings import Settings
from schemas.media import HashType
from streams.bench import synthetic
from streams.media.decode import open_image
from streams.media.hashers import BY_TYPE
from tests.integration.test_deadletters import dead_letter, publish_dead_letters
from tests.support.accounts import PASSWORD, as_tenant, make_user
from tests.support.events import as_json, post_event
from tests.support.media_server import MediaServer
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.stack import Worker

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = Path(__file__).parents[2] / "docs" / "console"
TOXIC = "You are a pathetic idiot, shut up you stupid loser"
MILD = "I think this idea is rather silly, honestly"
EVERYTHING_TO_REVIEW = {"toxic": {"low": 0.0, "high": 1.0}}
SHOWN = synthetic.scene(911)
WIDTH, HEIGHT = 1280, 800
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    f"--window-size={WIDTH},{HEIGHT}", "--lang=en-GB",
)  # fmt: skip


def settled(browser: WebDriver) -> WebDriverWait[WebDriver]:
    """A wait that reads the page again when it was replaced under it (a form posted, a
    redirect followed): an element found just before the new page came is stale, not absent."""
    return WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException])


@pytest.fixture(scope="module")
def console_url(api: TestClient) -> Iterator[str]:
    """The `api` fixture's app on a free port, served by uvicorn inside the app's event loop."""
    port = free_port()
    config = uvicorn.Config(
        api.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    assert api.portal is not None
    running = api.portal.start_task_soon(server.serve)
    wait_for(lambda: server.started or running.done(), 30, what="the console's server")
    assert server.started, running.exception()
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    running.result(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: `make browser` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def visit(driver: WebDriver, url: str | None, shot: str | None = None) -> None:
    """Load `url` (or stay), check the console log is free of errors, save a screenshot."""
    if url is not None:
        driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    log: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [e for e in log if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    if shot:  # the whole page, beyond the window (Chromium's DevTools protocol)
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        png = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{shot}.png").write_bytes(base64.b64decode(png["data"]))


def press(driver: WebDriver, keys: str) -> None:
    driver.switch_to.active_element.send_keys(keys)


def css_class(driver: WebDriver, ident: str) -> str:
    return driver.find_element(By.ID, ident).get_attribute("class") or ""


def queue_two_posts(api: TestClient, tenant: str, author: str) -> dict[str, Any]:
    """A toxic post by `author` and a milder one, both sent to review by the tenant's policy,
    and a report of the toxic one; its queue entry."""
    app = as_tenant(api, tenant)
    ok(api.put("/v1/tenant/policy", json=EVERYTHING_TO_REVIEW, headers=app))
    toxic = ok(api.post("/v1/posts", json={"text": TOXIC, "author": author}, headers=app), 202)
    ok(api.post("/v1/posts", json={"text": MILD, "author": "author-mild"}, headers=app), 202)

    def queued() -> Any:
        page = ok(api.get("/v1/review/queues/default/items", headers=app))
        return page["data"] if page["count"] == 2 else None

    entries = wait_for(queued, 120, what="both posts in the default queue")
    [entry] = [e for e in entries if e["event_id"] == toxic["id"]]
    report = {"event_id": toxic["id"], "category": "insult", "reporter": "reporter-1",
              "text": "calls me names"}  # fmt: skip
    ok(api.post("/v1/reports", json=report, headers=app), 201)
    return entry  # type: ignore[no-any-return]


def sign_in(browser: WebDriver, console_url: str, email: str, *, shots: bool = True) -> None:
    """An anonymous visitor is sent to the sign-in page first, then to the queues."""
    visit(browser, f"{console_url}/console", "login" if shots else None)
    assert "/console/login" in browser.current_url
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    visit(browser, None, "queues" if shots else None)
    assert browser.current_url.endswith("/console")
    cookie = browser.get_cookie("modstream_console")
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")


def claim_and_remove(browser: WebDriver, ident: int, *, shots: bool = True) -> None:
    """In the queue: select the item with j/k, claim it with c, remove it with r, a reason
    from the picker and Enter."""
    rows = [r.get_attribute("id") for r in browser.find_elements(By.CSS_SELECTOR, "tr.row")]
    assert f"item-{ident}" in rows
    press(browser, "j" * rows.index(f"item-{ident}"))
    assert "selected" in css_class(browser, f"item-{ident}")
    press(browser, "c")
    settled(browser).until(lambda d: "held" in css_class(d, f"item-{ident}"))
    visit(browser, None)
    press(browser, "r")
    picker = browser.switch_to.active_element
    assert picker.get_attribute("id") == f"reason-{ident}"
    Select(picker).select_by_value("insult")
    browser.find_element(By.ID, f"note-{ident}").send_keys("name-calling")
    visit(browser, None, "queue" if shots else None)
    browser.find_element(By.ID, f"reason-{ident}").send_keys("\n")
    settled(browser).until(
        lambda d: "remove (Insults and abuse)" in d.find_element(By.CLASS_NAME, "flash").text
    )
    visit(browser, None)


def test_a_moderator_removes_an_item_in_the_browser(
    api: TestClient, worker: Worker, console_url: str, browser: WebDriver
) -> None:
    tenant, author = new_tenant(), f"author-{uuid.uuid4().hex[:6]}"
    email = make_user(api, tenant, "moderator")
    entry = queue_two_posts(api, tenant, author)

    sign_in(browser, console_url, email)
    default = browser.find_element(By.XPATH, "//th/a[text()='default']/ancestor::tr")
    assert default.find_elements(By.TAG_NAME, "td")[0].text == "2"
    default.find_element(By.TAG_NAME, "a").click()
    visit(browser, None)
    claim_and_remove(browser, entry["id"])
    assert not browser.find_elements(By.ID, f"item-{entry['id']}")  # it left the queue
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.row")) == 1

    # The item's history: the removal, by this moderator, with its reason once stored.
    item_url = f"{console_url}/console/items/{entry['id']}"

    def history() -> str:
        visit(browser, item_url)
        text = browser.find_element(By.ID, "history").text
        return text if "remove by user:" + email + " · insult" in text else ""

    wait_for(history, 60, interval=1, what="the removal, with its reason, in the history")
    visit(browser, None, "item")
    assert browser.find_element(By.ID, "state").text == "decided"
    assert browser.find_element(By.ID, "decision").text == f"remove by user:{email}"
    assert "idiot" in " ".join(m.text for m in browser.find_elements(By.TAG_NAME, "mark"))
    reports = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=reports-h]")
    assert "calls me names" in reports.text

    visit(browser, f"{console_url}/console/authors/{author}", "author")
    assert author in browser.find_element(By.TAG_NAME, "h1").text

    def charted() -> bool:  # the hourly rollup runs a few seconds behind
        visit(browser, f"{console_url}/console/analytics?period=24h&metric=decision")
        legend = browser.find_elements(By.CLASS_NAME, "legend")
        return bool(legend) and "reject 1" in legend[0].text

    # The effective state: the removed item counts as rejected, the other is still in review.
    wait_for(charted, 60, interval=1, what="the two items in the analytics chart")
    visit(browser, None, "analytics")
    assert "review 1" in browser.find_element(By.CLASS_NAME, "legend").text

    visit(browser, f"{console_url}/console/operations", "operations")
    assert browser.find_element(By.ID, "dl-h").text == "Dead letters"

    browser.find_element(By.CSS_SELECTOR, "form.who button").click()
    # The old page stays "complete" until the next one replaces it: wait for the navigation.
    WebDriverWait(browser, 10).until(lambda d: "/console/login" in d.current_url)
    visit(browser, None)
    visit(browser, f"{console_url}/console")
    assert "/console/login" in browser.current_url  # signed out: the session is gone


@pytest.fixture(scope="module")
def media_server() -> Iterator[MediaServer]:
    """An image and an exact copy of it at another URL (the console fetches them again too)."""
    with MediaServer() as running:
        running.add("/shown.png", synthetic.encode(SHOWN), "image/png")
        running.add("/copy.png", synthetic.encode(SHOWN), "image/png")
        yield running


def queue_media(api: TestClient, app: dict[str, str], server: MediaServer) -> dict[str, Any]:
    """A bank whose entries ask for review, then the image and its copy: both match it and
    enter review. The first image's queue entry."""
    pixels = open_image(synthetic.encode(SHOWN), 10**8)
    bank = f"review-{uuid.uuid4().hex[:8]}"
    hashes = [{"hash_type": t.value, "value": BY_TYPE[t].hash(b"", pixels).hex()}
              for t in (HashType.PDQ, HashType.PHASH)]  # fmt: skip
    body = {"label": "lookalike", "source": "tests", "decision": "review", "entries": hashes}
    ok(api.post(f"/v1/media/banks/{bank}/entries", json=body, headers=app), 202)
    wait_for(
        lambda: any(b["bank"] == bank for b in ok(api.get("/v1/media/banks", headers=app))),
        60, what="the bank in the warehouse",
    )  # fmt: skip
    time.sleep(1.0)  # the worker follows media.banks as the sink does
    first = ok(
        api.post(
            "/v1/media/batch",
            headers=app,
            json={
                "items": [
                    {"url": server.url("/shown.png"), "media_type": "image", "owner": "owner-m"}
                ]
            },
        ),
        202,
    )
    [event_id] = first["event_ids"]
    stored = f"/v1/media/{event_id}"
    wait_for(lambda: api.get(stored, headers=app).status_code == 200, 90, what="its verdict")
    ok(
        api.post(
            "/v1/media/batch",
            headers=app,
            json={
                "items": [
                    {"url": server.url("/copy.png"), "media_type": "image", "owner": "owner-m"}
                ]
            },
        ),
        202,
    )

    def queued() -> Any:
        page = ok(api.get("/v1/review/queues/default/items", headers=app))
        media = [e for e in page["data"] if e["kind"] == "media"]
        return media if len(media) == 2 else None

    entries = wait_for(queued, 90, what="both images in the default queue")
    return next(e for e in entries if e["event_id"] == event_id)


def composer_session(api: TestClient, tenant: str, app: dict[str, str]) -> None:
    """A composer in `warn` mode: a warning shown, a rewrite suggested and accepted, posted."""
    now, session = datetime.now(UTC).isoformat(), uuid.uuid4().hex[:8]
    actions = ("warning_shown", "rewrite_suggested", "rewrite_accepted", "post_published")
    events = [
        {"event_id": f"{session}-{n}", "tenant": tenant, "source": "composer", "kind": "activity",
         "occurred_at": now, "payload": {"user": "writer-1", "session_id": session,
                                         "action": action, "mode": "warn"}}
        for n, action in enumerate(actions)
    ]  # fmt: skip
    ok(api.post("/v1/events", json=events, headers=app), 202)


def filter_of(browser: WebDriver, ident: str) -> str:
    script = "return getComputedStyle(document.getElementById(arguments[0])).filter"
    return str(browser.execute_script(script, ident))


def media_is_veiled_until_clicked(browser: WebDriver, page: str) -> None:
    """The media: veiled (blurred, grey) until the button is pressed, then veiled again; its
    bank match and its copy listed."""
    visit(browser, page, "media")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.getElementById('media').naturalWidth") > 0
    )
    assert "veiled" in css_class(browser, "media-figure")
    veil = filter_of(browser, "media")
    assert "blur" in veil
    assert "grayscale" in veil
    unveil = browser.find_element(By.ID, "unveil")
    unveil.click()
    assert "veiled" not in css_class(browser, "media-figure")
    assert unveil.get_attribute("aria-pressed") == "true"
    WebDriverWait(browser, 5).until(lambda d: filter_of(d, "media") == "none")
    unveil.send_keys(" ")  # the keyboard: Space on the focused button veils it again
    assert "veiled" in css_class(browser, "media-figure")
    banks = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=banks-h]").text
    assert "lookalike" in banks
    cluster = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=cluster-h]").text
    assert "near copy" in cluster
    assert "/copy.png" in cluster
    visit(browser, None)


def test_media_thread_feed_analytics_and_a_reviewer_in_the_browser(
    api: TestClient, worker: Worker, console_url: str, browser: WebDriver,
    media_server: MediaServer,
) -> None:  # fmt: skip
    tenant = new_tenant()
    app = as_tenant(api, tenant)
    ok(api.put("/v1/tenant/policy", json=EVERYTHING_TO_REVIEW, headers=app))
    image = queue_media(api, app, media_server)
    post = ok(api.post("/v1/posts", json={"text": MILD, "author": "poster-1"}, headers=app), 202)
    reply = ok(api.post(f"/v1/posts/{post['id']}/comments", headers=app,
                        json={"text": TOXIC, "author": "replier-1"}), 202)  # fmt: skip
    composer_session(api, tenant, app)

    def reply_queued() -> Any:
        page = ok(api.get("/v1/review/queues/default/items", headers=app))
        return next((e for e in page["data"] if e["event_id"] == reply["id"]), None)

    reply_entry = wait_for(reply_queued, 120, what="the reply in the default queue")
    sign_in(browser, console_url, make_user(api, tenant, "moderator"), shots=False)

    media_is_veiled_until_clicked(browser, f"{console_url}/console/items/{image['id']}")
    # The URL now serves other bytes than those judged: the console does not show them.
    media_server.add("/shown.png", synthetic.encode(synthetic.scene(912)), "image/png")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    changed = httpx.get(f"{console_url}/console/items/{image['id']}/media", cookies=cookies)
    assert changed.status_code == 409, changed.text
    assert "changed since it was judged" in changed.text

    # The reply's page: its thread, the post it answers above it.
    reply_page = f"{console_url}/console/items/{reply_entry['id']}"
    visit(browser, reply_page)
    thread = browser.find_element(By.ID, "thread").text
    assert MILD in thread
    assert TOXIC in thread

    # The live feed: a verdict published while the page is open appears in it.
    visit(browser, f"{console_url}/console/feed?kind=post")
    WebDriverWait(browser, 20).until(lambda d: "Live:" in d.find_element(By.ID, "feed-status").text)
    fresh = ok(api.post("/v1/posts", json={"text": MILD, "author": "poster-2"}, headers=app), 202)
    WebDriverWait(browser, 90, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f"tr.live[data-event='{fresh['id']}']")
    )
    visit(browser, None, "feed")

    # A reviewer granted the default queue removes the reply there.
    reviewer = make_user(api, tenant, "reviewer")
    grant = {"queues": ["default"]}
    ok(api.put(f"/v1/review/grants/user:{reviewer}", json=grant, headers=app))
    browser.delete_all_cookies()
    sign_in(browser, console_url, reviewer, shots=False)
    assert "You review the queues granted to you: default" in browser.page_source
    browser.find_element(By.XPATH, "//th/a[text()='default']").click()
    visit(browser, None)
    claim_and_remove(browser, reply_entry["id"], shots=False)

    def noticed() -> str:  # the removal's notice to the author, once the sink stored it
        visit(browser, reply_page)
        found = browser.find_elements(By.ID, "notices")
        return found[0].text if found else ""

    assert "author replier-1" in wait_for(noticed, 60, interval=1, what="the removal's notice")
    visit(browser, None, "thread")
    assert "removed by a reviewer" in browser.find_element(By.ID, "thread").text

    # Analytics: the composer's funnel, and (for moderators) the model against the reviewer.
    browser.delete_all_cookies()
    sign_in(browser, console_url, make_user(api, tenant, "moderator"), shots=False)

    def charted() -> bool:
        visit(browser, f"{console_url}/console/analytics?period=24h")
        funnel = browser.find_elements(By.ID, "funnel-warn")
        decided = browser.find_elements(By.CSS_SELECTOR, "#agreement tbody tr")
        return bool(funnel) and bool(decided) and decided[0].text.startswith("toxic 1 1")

    wait_for(charted, 60, interval=1, what="the funnel and the reviewer's decision in analytics")
    visit(browser, None, "analytics-more")


BROKEN_RULE = "rule second_look:\n    when toxic < 0.5 and scroes.insult > 0.1\n    then review\n"
GOOD_RULES = (
    'rule second_look:\n    when toxic < 0.5 and kind == "post"\n'
    '    then review, label "second_look"\n'
    "\n"
    "shadow rule strict:\n    when toxic >= 0\n    then reject\n"
)


def operate_dead_letter(browser: WebDriver, console_url: str, dead_id: str, event_id: str) -> None:
    """The dead letter listed (the sink stores it within a second or so), replayed with its
    row's button; the report names where it went."""

    def listed() -> bool:
        visit(browser, f"{console_url}/console/operations?event_id={event_id}")
        return bool(browser.find_elements(By.CSS_SELECTOR, f'button[data-replay="{dead_id}"]'))

    wait_for(listed, 90, interval=1, what="the dead letter on the operations page")
    browser.find_element(By.CSS_SELECTOR, f'button[data-replay="{dead_id}"]').click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "replay-report"))
    visit(browser, None, "operations")
    report = browser.find_element(By.ID, "replay-report").text
    assert "Replayed 1" in report
    assert f"{dead_id} · {event_id} · processing_error → events.text:" in report


def create_and_revoke_token(api: TestClient, browser: WebDriver, console_url: str) -> None:
    visit(browser, f"{console_url}/console/operations/tokens")
    browser.find_element(By.ID, "token-name").send_keys("chat-gateway")
    browser.find_element(By.ID, "scope-ingest").click()
    browser.find_element(By.CSS_SELECTOR, "#token-new button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "secret"))
    visit(browser, None, "tokens")
    secret = browser.find_element(By.ID, "secret").text
    bearer = {"Authorization": f"Bearer {secret}"}
    assert ok(api.get("/v1/me", headers=bearer))["scopes"] == ["ingest", "read"]
    ident = ok(api.get("/v1/me", headers=bearer))["token_id"]
    browser.find_element(By.CSS_SELECTOR, f'button[data-revoke="{ident}"]').click()
    # The revoke posts and the page is replaced: an element found just before goes stale.
    settled(browser).until(lambda d: "revoked" in d.find_element(By.ID, "tokens").text)
    visit(browser, None)
    assert api.get("/v1/me", headers=bearer).status_code == 401


def type_rules(browser: WebDriver, console_url: str) -> None:
    """An invalid rule shows its line, column and reason while typing; fixed, it is valid."""
    visit(browser, f"{console_url}/console/rules")
    editor = browser.find_element(By.ID, "rules-source")
    editor.send_keys(BROKEN_RULE)
    problems = browser.find_element(By.ID, "rules-problems")
    WebDriverWait(browser, 10).until(lambda d: "line 2, column 26" in problems.text)
    assert "unknown field 'scroes.insult'" in problems.text
    visit(browser, None, "rules-typing")
    editor.clear()
    editor.send_keys(GOOD_RULES)
    status = browser.find_element(By.ID, "rules-status")
    WebDriverWait(browser, 10).until(lambda d: status.text.startswith("Valid: 2 rules"))
    browser.find_element(By.ID, "rules-backtest").click()  # a preview over stored verdicts
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "backtest"))
    visit(browser, None, "rules-backtest")
    preview = browser.find_element(By.ID, "backtest").text
    assert "1 would change decision" in preview  # the replayed post: approve → review
    assert "approve → review 1" in preview
    browser.find_element(By.ID, "rules-note").send_keys("a second look at mild posts")
    browser.find_element(By.ID, "rules-save").click()
    WebDriverWait(browser, 10).until(lambda d: "Saved as version 1" in d.page_source)
    visit(browser, None)


def post_and_wait(api: TestClient, tenant: str, texts: tuple[str, ...]) -> None:
    """Posts of `tenant`, judged by the worker and stored."""
    app = as_tenant(api, tenant)
    ids = [ok(api.post("/v1/posts", json={"text": t, "author": "a-1"}, headers=app), 202)["id"]
           for t in texts]  # fmt: skip

    def stored() -> bool:
        return all(api.get(f"/v1/verdicts/{i}", headers=app).is_success for i in ids)

    wait_for(stored, 90, what="the verdicts stored")


def test_an_admin_operates_the_tenant_in_the_browser(
    api: TestClient, worker: Worker, console_url: str, browser: WebDriver, settings: Settings
) -> None:
    """Dead letter replayed, token made and revoked, webhook added, policy refused beside its
    field then saved, invite made, rules typed with live checks, backtested and saved; the audit
    log shows it all; after signing out, the old session cookie no longer works."""
    tenant = new_tenant()
    email = make_user(api, tenant, "admin")
    event = post_event(f"{tenant}-dl", "Thank you for the thoughtful reply", tenant=tenant)
    letter = dead_letter(tenant, as_json(event), event_id=event["event_id"])
    (dead_id,) = publish_dead_letters(settings.kafka_bootstrap or "", [letter])
    post_and_wait(api, tenant, (TOXIC, MILD))  # verdicts to backtest over

    sign_in(browser, console_url, email)
    operate_dead_letter(browser, console_url, dead_id, event["event_id"])
    app = as_tenant(api, tenant)
    wait_for(  # the replayed event, judged anew: its verdict is backtested below
        lambda: api.get(f"/v1/verdicts/{event['event_id']}", headers=app).is_success, 90,
        what="the replayed event's verdict",
    )  # fmt: skip
    create_and_revoke_token(api, browser, console_url)

    visit(browser, f"{console_url}/console/operations/webhooks")
    browser.find_element(By.ID, "hook-url").send_keys("http://127.0.0.1:9/hooks/modstream")
    browser.find_element(By.CSS_SELECTOR, "#hook-new button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "secret"))
    visit(browser, None, "webhooks")

    visit(browser, f"{console_url}/console/operations/policy")
    browser.find_element(By.ID, "toxic_low").send_keys("0.9")
    browser.find_element(By.ID, "toxic_high").send_keys("0.2")
    browser.find_element(By.CSS_SELECTOR, "#policy-form button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "toxic_high-problem"))
    visit(browser, None, "policy")
    assert "must not be above high" in browser.find_element(By.ID, "toxic_high-problem").text
    browser.find_element(By.ID, "toxic_high").clear()
    browser.find_element(By.ID, "toxic_high").send_keys("0.95")
    browser.find_element(By.CSS_SELECTOR, "#policy-form button").click()
    WebDriverWait(browser, 10).until(lambda d: "Policy saved" in d.page_source)
    visit(browser, None)
    assert ok(api.get("/v1/tenant/policy", headers=app))["policy"]["toxic"]["high"] == 0.95

    visit(browser, f"{console_url}/console/operations/invites")
    Select(browser.find_element(By.ID, "invite-role")).select_by_value("reviewer")
    browser.find_element(By.CSS_SELECTOR, "#invite-new button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "secret"))
    visit(browser, None, "invites")

    type_rules(browser, console_url)
    assert ok(api.get("/v1/tenant/rules", headers=app))["version"] == 1

    # The shadow rule on new posts, once the worker has the new rules: shadow against live.
    def compared() -> bool:
        post_and_wait(api, tenant, (MILD,))
        visit(browser, f"{console_url}/console/rules")
        return bool(browser.find_elements(By.CSS_SELECTOR, "#shadow td"))

    wait_for(compared, 90, interval=1, what="the shadow rule compared with live")
    visit(browser, None, "rules")
    assert browser.find_element(By.CSS_SELECTOR, "#shadow td").text == "strict"

    visit(browser, f"{console_url}/console/operations/audit", "audit")
    log = browser.find_element(By.ID, "audit").text
    for action in ("deadletter.replay", "token.create", "token.revoke", "tenant.policy",
                   "invite.create", "tenant.rules"):  # fmt: skip
        assert action in log, action

    old = browser.get_cookie("modstream_console")
    assert old is not None
    browser.find_element(By.CSS_SELECTOR, "form.who button").click()
    WebDriverWait(browser, 10).until(lambda d: "/console/login" in d.current_url)
    visit(browser, None)
    browser.add_cookie({k: old[k] for k in ("name", "value", "path", "httpOnly", "sameSite")})
    visit(browser, f"{console_url}/console/operations")
    assert "/console/login" in browser.current_url  # the old session cookie is revoked
