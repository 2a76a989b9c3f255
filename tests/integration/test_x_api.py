"""X accounts end to end, with a worker judging: the preview publishes new tweets and summarises
their verdicts, and fake X → `modstream x-poll` → broker → worker → warehouse → API verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.support.accounts import as_tenant
from tests.support.events import post_event
from tests.support.fake_x import CLIENT_ID, FakeX
from tests.support.polling import wait_for
from tests.support.read_rows import new_tenant
from tests.support.settings import TEST_SECRET
from tests.support.stack import Worker
from tests.support.x_connect import KEY, audit_actions, connect, fake_x, x_enabled


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeX]:
    with fake_x() as running:
        yield running


@pytest.fixture(scope="module")
def xs(api: TestClient, fake: FakeX, settings: Settings) -> Iterator[Settings]:
    """The API's settings with X configured, pointing at the fake."""
    with x_enabled(api, settings, fake) as configured:
        yield configured


def warm_up(api: TestClient, headers: dict[str, str], tenant: str) -> None:
    """Wait until the worker judges (it starts with the first test that needs it)."""
    event = post_event(f"warm-{tenant}", "good morning", tenant=tenant)
    assert api.post("/v1/events", json=event, headers=headers).status_code == 202
    wait_for(
        lambda: api.get(f"/v1/verdicts/warm-{tenant}", headers=headers).status_code == 200,
        timeout=120, what="the worker's first verdict",
    )  # fmt: skip


def test_a_preview_publishes_new_tweets_and_summarises_their_verdicts(
    api: TestClient, fake: FakeX, xs: Settings, worker: Worker
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    warm_up(api, admin, tenant)
    fake.add_user("404", "dave")
    account = connect(api, fake, admin, "404")
    calm = fake.tweet("What a lovely morning for a walk in the park.", home_of=["404"])
    vile = fake.tweet(
        "You are a stupid worthless idiot, shut up you moron", author="666", home_of=["404"]
    )
    response = api.post(f"/v1/x/accounts/{account['id']}/preview", json={"wait": 30}, headers=admin)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["fetched"], summary["new"], summary["judged"], summary["pending"]) == (
        2, 2, 2, 0,
    )  # fmt: skip
    assert summary["event_ids"] == [f"x-{calm}", f"x-{vile}"]
    assert sum(summary["decisions"].values()) == 2
    verdicts = {i: api.get(f"/v1/verdicts/x-{i}", headers=admin).json() for i in (calm, vile)}
    assert verdicts[vile]["toxic"] > verdicts[calm]["toxic"]
    assert verdicts[vile]["author"] == "666"
    assert verdicts[vile]["source"] == "x"
    expected = {verdicts[calm]["decision"], verdicts[vile]["decision"]}
    assert set(summary["decisions"]) == expected
    carried = Counter(k for v in verdicts.values() for k, s in v["scores"].items() if s >= 0.5)
    assert {row["label"]: row["items"] for row in summary["top_labels"]} == dict(carried)
    again = api.post(f"/v1/x/accounts/{account['id']}/preview", json={"wait": 0}, headers=admin)
    assert (again.json()["fetched"], again.json()["new"]) == (0, 0)  # nothing is published twice
    assert ("x.preview", "x:404", "ok") in audit_actions(api, tenant)


def test_end_to_end_from_x_through_the_poller_command_to_verdicts(
    api: TestClient, fake: FakeX, xs: Settings, worker: Worker, settings: Settings
) -> None:
    """fake X → `modstream x-poll` (a process of its own) → events.text → worker → warehouse
    → `GET /v1/verdicts/…`, with the account connected through the API."""
    admin = as_tenant(api, new_tenant())
    fake.add_user("707", "grace")
    connect(api, fake, admin, "707")
    tweets = [
        fake.tweet(f"Post number {i} about gardening", author=f"80{i}", home_of=["707"])
        for i in range(7)
    ]  # two pages of five
    env = os.environ | {
        "MODSTREAM_ENV": "test",
        "MODSTREAM_SECRET_KEY": TEST_SECRET,
        "MODSTREAM_DATA_DIR": str(settings.data_dir),
        "MODSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "MODSTREAM_X_CLIENT_ID": CLIENT_ID,
        "MODSTREAM_X_API_URL": fake.url,
        "MODSTREAM_X_TOKEN_KEY": KEY,
        "MODSTREAM_X_PAGE_SIZE": "5",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "x-poll", "--rounds", "1"],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    def judged() -> list[dict[str, Any]] | None:
        found = [api.get(f"/v1/verdicts/x-{t}", headers=admin) for t in tweets]
        return [r.json() for r in found] if all(r.status_code == 200 for r in found) else None

    verdicts = wait_for(judged, timeout=90, what="verdicts of the polled tweets")
    assert [v["author"] for v in verdicts] == [f"80{i}" for i in range(7)]
    assert {v["source"] for v in verdicts} == {"x"}
    assert verdicts[0]["text"] == "Post number 0 about gardening"
    account = api.get("/v1/x/accounts", headers=admin).json()["data"][0]
    assert account["since_id"] == str(tweets[-1])
    assert account["published"] == 7
    assert account["last_error"] is None
