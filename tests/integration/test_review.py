"""Human review end to end, through the real text worker and strikes worker on the embedded broker:
a borderline post lands in a queue, is reported, claimed and removed (an action on
`moderation.actions`, the thread withholds it, a strike counted); its author appeals; another
reviewer overturns the removal (notices on `moderation.notices`, the item restored, the strike
gone); a local receiver checks the signature of every webhook delivery (the verdict's too); the
statements of reasons validate against the transcribed Transparency Database schema."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from api.review import items
from api.review.items import Subject
from infra.settings import Settings
from infra.warehouse import Warehouse
from schemas.dsa import BATCH_SCHEMA
from schemas.moderation import Origin
from tests.support.accounts import as_tenant, bearer, login, make_token, make_user, state_of
from tests.support.polling import wait_for
from tests.support.read_rows import T0, new_tenant, store, verdict_row
from tests.support.stack import Worker
from tests.support.verdicts import read_topic
from tests.support.webhook_receiver import WebhookReceiver

TOXIC = "You are a pathetic idiot, shut up you stupid loser"
EVERYTHING_TO_REVIEW = {"toxic": {"low": 0.0, "high": 1.0}}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def thread_item(api: TestClient, post_id: str, headers: dict[str, str]) -> Any:
    return ok(api.get(f"/v1/posts/{post_id}/thread", headers=headers))["post"]


def strikes(api: TestClient, author: str, headers: dict[str, str]) -> int:
    return int(ok(api.get(f"/v1/authors/{author}/strikes", headers=headers))["strikes"])


def test_a_removal_appealed_and_overturned_end_to_end(
    api: TestClient, worker: Worker, settings: Settings, model_dir: Path, tmp_path: Path
) -> None:
    tenant, author = new_tenant(), f"author-{uuid.uuid4().hex[:6]}"
    first = as_tenant(api, tenant)  # reviewer one (and the app, and the admin)
    second = bearer(make_token(api, tenant, ("moderate", "read"), name="reviewer two")[1])
    ok(api.put("/v1/tenant/policy", json=EVERYTHING_TO_REVIEW, headers=first))
    strikes_worker = Worker(settings, model_dir, tmp_path / "strikes.log", command="strikes")
    with WebhookReceiver(fail_first=2) as receiver:
        subscription = {"url": receiver.url, "events": ["action", "notice", "verdict"],
                        "verdict_decisions": ["review", "reject"]}  # fmt: skip
        hook = ok(api.post("/v1/webhooks", json=subscription, headers=first), 201)
        assert hook["verdict_decisions"] == ["reject", "review"]
        receiver.secret = hook["secret"]
        strikes_worker.start()
        try:
            _flow(api, settings, tenant, author, first, second, receiver)
        finally:
            strikes_worker.stop()
        deliveries = ok(api.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=first))
    assert {d["state"] for d in deliveries} == {"delivered"}
    assert sum(d["attempts"] for d in deliveries) == len(deliveries) + 2  # two retried


def _flow(
    api: TestClient,
    settings: Settings,
    tenant: str,
    author: str,
    first: dict[str, str],
    second: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    post = ok(api.post("/v1/posts", json={"text": TOXIC, "author": author}, headers=first), 202)

    # The model sends it to review; a report of it joins the same entry.
    def queued() -> Any:
        page = ok(api.get("/v1/review/queues/default/items", headers=first))
        return page["data"] if page["count"] else None

    [entry] = wait_for(queued, 120, what="the post in the default queue")
    assert (entry["event_id"], entry["origin"], entry["model_decision"]) == (
        post["id"], "verdict", "review",
    )  # fmt: skip
    report = {"event_id": post["id"], "category": "harassment", "reporter": "reporter-1"}
    reported = ok(api.post("/v1/reports", json=report, headers=first), 201)
    assert (reported["review_item"], reported["reports"]) == (entry["id"], 1)

    # One claim at a time; the holder removes it.
    claimed = ok(api.post("/v1/review/queues/default/claim", headers=first))
    assert claimed["id"] == entry["id"]
    assert api.post("/v1/review/queues/default/claim", headers=second).status_code == 204
    assert api.post(f"/v1/review/items/{entry['id']}/claim", headers=second).status_code == 409
    removal = {"action": "remove", "reason": "harassment", "note": "targets a user"}
    decided = ok(api.post(f"/v1/review/items/{entry['id']}/decision", json=removal, headers=first))
    action = decided["action"]
    assert (action["effect"], action["dsa_category"], decided["notices"]) == (
        "removed", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", 2,
    )  # fmt: skip
    on_topic = [a for a in read_topic(bootstrap, "moderation.actions") if a["tenant"] == tenant]
    assert [a["action_id"] for a in on_topic] == [action["action_id"]]

    wait_for(
        lambda: thread_item(api, post["id"], first)["status"] == "withheld", 60,
        what="the thread withholding the removed post",
    )  # fmt: skip
    assert (  # the thread, and the verdict read by id
        thread_item(api, post["id"], first)["moderation"],
        ok(api.get(f"/v1/verdicts/{post['id']}", headers=first))["moderation"],
    ) == ("removed", "removed")
    wait_for(lambda: strikes(api, author, first) == 1, 90, what="the removal's strike")

    # The author appeals; the first reviewer may not decide it, the second overturns it.
    appeal = {"action_id": action["action_id"], "author": author, "text": "It was a quote."}
    appealed = ok(api.post("/v1/appeals", json=appeal, headers=first), 201)
    assert appealed["queue"] == "appeals"
    assert api.post("/v1/appeals", json=appeal, headers=first).status_code == 409
    assert api.post("/v1/review/queues/appeals/claim", headers=first).status_code == 204
    forbidden = api.post(f"/v1/review/items/{appealed['review_item']}/claim", headers=first)
    assert forbidden.status_code == 403
    assert (
        ok(api.post("/v1/review/queues/appeals/claim", headers=second))["appeal_of"]
        == (action["action_id"])
    )
    overturn = {"action": "overturn", "reason": "no_violation"}
    path = f"/v1/review/items/{appealed['review_item']}/decision"
    restored = ok(api.post(path, json=overturn, headers=second))["action"]
    assert (restored["effect"], restored["appeal_of"]) == ("visible", action["action_id"])

    wait_for(
        lambda: thread_item(api, post["id"], first)["status"] == "delivered", 60,
        what="the thread restoring the post",
    )  # fmt: skip
    assert (  # the thread, and the verdict read by id
        thread_item(api, post["id"], first)["moderation"],
        ok(api.get(f"/v1/verdicts/{post['id']}", headers=first))["moderation"],
    ) == ("visible", "visible")
    wait_for(lambda: strikes(api, author, first) == 0, 90, what="the strike taken back")

    notices = [n for n in read_topic(bootstrap, "moderation.notices") if n["tenant"] == tenant]
    assert sorted((n["action"], n["recipient"], n["recipient_id"]) for n in notices) == [
        ("overturn", "author", author),
        ("overturn", "reporter", "reporter-1"),
        ("remove", "author", author),
        ("remove", "reporter", "reporter-1"),
    ]
    removal_notice = next(
        n for n in notices if n["recipient"] == "author" and n["action"] == "remove"
    )
    assert removal_notice["appeal_until"] is not None
    assert "Harassment" in removal_notice["statement"]

    # Every action and notice, and the verdict, reached the receiver, each correctly signed.
    wait_for(lambda: len(receiver.deliveries) == 7, 60, what="seven webhook deliveries")
    assert all(d.signature_ok for d in receiver.deliveries)
    assert sorted(d.event_type for d in receiver.deliveries) == (
        ["action"] * 2 + ["notice"] * 4 + ["verdict"]
    )
    [verdict] = [d.body for d in receiver.deliveries if d.event_type == "verdict"]
    assert (verdict["data"]["event_id"], verdict["data"]["decision"]) == (post["id"], "review")

    # The statement of reasons of the removal, in the Transparency Database's format.
    batch = ok(api.get("/v1/dsa/statements", headers=first))
    assert batch["count"] == 1
    errors = [
        e.message for e in jsonschema_rs.validator_for(BATCH_SCHEMA).iter_errors(batch["batch"])
    ]
    assert errors == []
    [statement] = batch["batch"]["statements"]
    assert statement["puid"] == f"{tenant}:{action['action_id']}"
    assert statement["source_type"] == "SOURCE_ARTICLE_16"
    summary = ok(api.get("/v1/dsa/summary", headers=first))
    assert (summary["appeals"], summary["overturned"], summary["reports"]) == (1, 1, 1)

    # The model sent it to review; people ended up keeping it: one decision, nothing removed.
    agreed = ok(api.get("/v1/review/agreement", params={"label": "toxic"}, headers=first))
    assert (agreed["decisions"], agreed["removed"]) == (1, 0)
    assert agreed["current"]["true_negative"] == 1


def test_chat_messages_are_read_only_with_the_private_scope_and_audited(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    store(warehouse, [
        verdict_row(tenant, "c1", kind="chat_message", source="chat"),
        verdict_row(tenant, "p1", minutes=1),
    ])  # fmt: skip
    reader = as_tenant(api, tenant, ("read",))
    refused = api.get("/v1/posts", params={"kind": "chat_message"}, headers=reader)
    assert refused.status_code == 403
    assert "private" in refused.json()["error"]["message"]
    listed = ok(api.get("/v1/posts", headers=reader))
    assert [i["event_id"] for i in listed["data"]] == ["p1"]
    entitled = as_tenant(api, tenant, ("read", "private", "admin"))
    chats = ok(api.get("/v1/posts", params={"kind": "chat_message"}, headers=entitled))
    assert [i["event_id"] for i in chats["data"]] == ["c1"]
    # One verdict by id: the same rule, the same audit.
    by_id = api.get("/v1/verdicts/c1", headers=reader)
    assert by_id.status_code == 403
    assert "private" in by_id.json()["error"]["message"]
    assert ok(api.get("/v1/verdicts/p1", headers=reader))["event_id"] == "p1"
    assert ok(api.get("/v1/verdicts/c1", headers=entitled))["kind"] == "chat_message"
    audit = ok(api.get("/v1/audit", params={"action": "private.read"}, headers=entitled))
    assert [e["target"] for e in audit] == ["verdict:c1", "posts"]


def test_a_reviewer_reads_the_items_of_its_queues_and_nothing_else(
    api: TestClient, warehouse: Warehouse
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    store(warehouse, [
        verdict_row(tenant, "mine", toxic=0.5),
        verdict_row(tenant, "theirs", minutes=1, toxic=0.5),
        verdict_row(tenant, "chat", minutes=2, toxic=0.5, kind="chat_message", source="chat"),
    ])  # fmt: skip
    ok(api.put("/v1/review/queues/arabic", json={"langs": ["ar"], "position": 1}, headers=admin))
    entries = {
        event_id: _enqueue(api, tenant, event_id, lang, kind)
        for event_id, lang, kind in [
            ("mine", "ar", "post"), ("theirs", "en", "post"), ("chat", "ar", "chat_message"),
        ]
    }  # fmt: skip
    email = make_user(api, tenant, "reviewer")
    reviewer = login(api, email)
    ok(api.put(f"/v1/review/grants/user:{email}", json={"queues": ["arabic"]}, headers=admin))

    # Its queue's item: the verdict, the thread and the review entry.
    assert ok(api.get("/v1/verdicts/mine", headers=reviewer))["event_id"] == "mine"
    assert ok(api.get("/v1/posts/mine/thread", headers=reviewer))["post"]["id"] == "mine"
    assert ok(api.get(f"/v1/review/items/{entries['mine']}", headers=reviewer))["event_id"] == (
        "mine"
    )
    # Another queue's item, stored and judged all the same: refused, as is every listing.
    for path in ("/v1/verdicts/theirs", "/v1/posts/theirs/thread"):
        refused = api.get(path, headers=reviewer)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "item_not_granted")
    listing = api.get("/v1/posts", headers=reviewer)
    assert (listing.status_code, listing.json()["error"]["code"]) == (403, "reviewer_limited")
    # A chat message of its queue still needs the private scope (a reviewer has none).
    private = api.get("/v1/verdicts/chat", headers=reviewer)
    assert (private.status_code, private.json()["error"]["code"]) == (403, "insufficient_scope")
    # Granted the other queue, it reads that item too.
    ok(api.put(f"/v1/review/grants/user:{email}", json={"queues": ["arabic", "default"]},
               headers=admin))  # fmt: skip
    assert ok(api.get("/v1/verdicts/theirs", headers=reviewer))["event_id"] == "theirs"


def _enqueue(api: TestClient, tenant: str, event_id: str, lang: str, kind: str) -> int:
    subject = Subject(
        tenant=tenant, event_id=event_id, item_id=event_id, author="alice", source="comments",
        kind=kind, occurred_at=T0, lang=lang, scores={"toxic": 0.5}, toxic=0.5,
        model_decision="review",
    )  # fmt: skip
    with state_of(api).accounts.session() as session:
        return items.enqueue(session, subject, strikes=0, now=T0, origin=Origin.VERDICT).id
