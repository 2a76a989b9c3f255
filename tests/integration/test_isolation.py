"""Nobody sees what is not theirs. Every route of the app (enumerated from `app.routes`, so a new
route fails here until it is covered) is called with the credentials of tenant B against tenant
A's data: no read returns A's data, no write touches it. (Anonymous callers get 401 on every route
but the public ones: tests/unit/test_isolation.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from api.rollups import refresh
from infra.accounts.models import Invite, Tenant
from infra.warehouse import Warehouse
from infra.warehouse.sink import BANK_ENTRIES, MEDIA_VERDICTS
from schemas.media import MediaVerdict
from schemas.rows import MEDIA_VERDICT_ROWS
from tests.support.accounts import anonymous, as_tenant, login, make_token, make_user, state_of
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.read_rows import T0, new_tenant, store, verdict_row
from tests.support.routes import PUBLIC, console_route, every_route

MARK = "SECRET-OF-TENANT-A"
RANGE = {
    "since": (T0 - timedelta(hours=1)).isoformat(),
    "until": (T0 + timedelta(hours=2)).isoformat(),
}


@dataclass
class Seed:
    a: str
    b: str
    a_headers: dict[str, str]
    b_headers: dict[str, str]
    a_token_id: int
    a_token: str
    a_invite_id: int
    a_email: str


@pytest.fixture(scope="module")
def seed(api: TestClient, warehouse: Warehouse) -> Seed:
    a, b = new_tenant(), new_tenant()
    store(warehouse, [verdict_row(a, "iso-1", author="iso-author", toxic=0.9, minutes=5)],
          text=f"{MARK} {{id}}")  # fmt: skip
    now = datetime.now(UTC)
    media = MediaVerdict(
        event_id="iso-m1", tenant=a, source="media", item_id="m1", author="iso-author",
        occurred_at=now, judged_at=now, media_type="image", url=f"https://a.example/{MARK}.png",
        decision="reject", reason="bank_match", policy_version="p1", latency_ms=1.0,
    )  # fmt: skip
    warehouse.insert(MEDIA_VERDICTS.name, [MEDIA_VERDICT_ROWS.row(media)], MEDIA_VERDICTS.columns)
    warehouse.insert(
        BANK_ENTRIES.name,
        [[a, "iso-bank", "iso-entry", "sha256", "cd" * 32, MARK, "t", "reject", "active", None,
          now]],
        BANK_ENTRIES.columns,
    )  # fmt: skip
    refresh(warehouse)
    a_email = make_user(api, a, "admin")
    a_headers = login(api, a_email)
    token_id, token = make_token(api, a, ("read",))
    invite = api.post("/v1/invites", json={}, headers=a_headers).json()
    api.get("/v1/me", headers={"Authorization": f"Bearer {token}"})  # some usage and audit
    return Seed(a, b, a_headers, as_tenant(api, b), token_id, token, invite["id"], a_email)


def call(api: TestClient, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    return api.request(method, path, headers=headers, **kw)


def no_mark(response: Any, seed: Seed) -> Any:
    assert MARK not in response.text
    assert seed.a not in response.text
    assert seed.a_email not in response.text
    return response


def events_of(warehouse: Warehouse, event_id: str) -> list[str]:
    rows = warehouse.rows(
        "SELECT tenant FROM events FINAL WHERE event_id = {e:String}", {"e": event_id}
    )
    return [r["tenant"] for r in rows]


# Each check calls its route with B's credentials, aimed at A's data, and asserts.
Check = Callable[[TestClient, Seed, Warehouse], None]


def _me(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/me", s.b_headers), s).json()["tenant"] == s.b


def _logout(api: TestClient, s: Seed, w: Warehouse) -> None:
    # B's API token is no login: nothing is revoked, and A's credentials still work.
    assert call(api, "POST", "/v1/auth/logout", s.b_headers).status_code == 409
    assert api.get("/v1/me", headers=s.a_headers).status_code == 200


def _create_token(api: TestClient, s: Seed, w: Warehouse) -> None:
    made = call(api, "POST", "/v1/tokens", s.b_headers, json={"name": "x", "scopes": ["read"]})
    assert made.status_code == 201
    who = api.get("/v1/me", headers={"Authorization": f"Bearer {made.json()['token']}"})
    assert who.json()["tenant"] == s.b


def _list_tokens(api: TestClient, s: Seed, w: Warehouse) -> None:
    listed = no_mark(call(api, "GET", "/v1/tokens", s.b_headers), s).json()["data"]
    assert s.a_token_id not in [t["id"] for t in listed]


def _revoke_token(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert call(api, "DELETE", f"/v1/tokens/{s.a_token_id}", s.b_headers).status_code == 404
    assert api.get("/v1/me", headers={"Authorization": f"Bearer {s.a_token}"}).status_code == 200


def _tenant(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/tenant", s.b_headers), s).json()["name"] == s.b


def _privacy(api: TestClient, s: Seed, w: Warehouse) -> None:
    response = call(api, "PUT", "/v1/tenant/privacy", s.b_headers, json={"privacy_mode": True})
    assert response.json()["name"] == s.b
    with state_of(api).accounts.session() as session:
        assert not session.query(Tenant).filter_by(name=s.a).one().privacy_mode
    call(api, "PUT", "/v1/tenant/privacy", s.b_headers, json={"privacy_mode": False})


def _a_policy(api: TestClient, s: Seed) -> dict[str, Any]:
    a_policy = {"toxic": {"low": 0.01, "high": 0.02}, "labels": {}, "unknown_language": None}
    assert call(api, "PUT", "/v1/tenant/policy", s.a_headers, json=a_policy).is_success
    return a_policy


def _get_policy(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_policy(api, s)
    assert call(api, "GET", "/v1/tenant/policy", s.b_headers).json()["updated_at"] is None


def _set_policy(api: TestClient, s: Seed, w: Warehouse) -> None:
    a_policy = _a_policy(api, s)
    assert call(api, "PUT", "/v1/tenant/policy", s.b_headers, json={}).is_success
    assert call(api, "GET", "/v1/tenant/policy", s.a_headers).json()["policy"] == a_policy
    call(api, "DELETE", "/v1/tenant/policy", s.b_headers)


def _drop_policy(api: TestClient, s: Seed, w: Warehouse) -> None:
    a_policy = _a_policy(api, s)
    assert call(api, "DELETE", "/v1/tenant/policy", s.b_headers).status_code == 204
    assert call(api, "GET", "/v1/tenant/policy", s.a_headers).json()["policy"] == a_policy


def _users(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/users", s.b_headers), s).status_code == 200


def _create_invite(api: TestClient, s: Seed, w: Warehouse) -> None:
    made = call(api, "POST", "/v1/invites", s.b_headers, json={"role": "admin"}).json()
    with state_of(api).accounts.session() as session:
        invite = session.get(Invite, made["id"])
        tenant = session.get(Tenant, invite.tenant_id)
        assert tenant is not None
        assert tenant.name == s.b


def _list_invites(api: TestClient, s: Seed, w: Warehouse) -> None:
    listed = no_mark(call(api, "GET", "/v1/invites", s.b_headers), s).json()
    assert s.a_invite_id not in [i["id"] for i in listed]


def _deactivate_invite(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert call(api, "DELETE", f"/v1/invites/{s.a_invite_id}", s.b_headers).status_code == 404
    with state_of(api).accounts.session() as session:
        assert session.get(Invite, s.a_invite_id).active


def _usage(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = no_mark(call(api, "GET", "/v1/usage", s.b_headers), s).json()
    assert f"token:{s.a_token_id}" not in [r["subject"] for r in body["data"]]


def _audit(api: TestClient, s: Seed, w: Warehouse) -> None:
    entries = no_mark(call(api, "GET", "/v1/audit", s.b_headers), s).json()
    assert f"token:{s.a_token_id}" not in [e["actor"] for e in entries]


def _events(api: TestClient, s: Seed, w: Warehouse) -> None:
    mine, theirs = (
        post_event("iso-b-ok", "fine", tenant=s.b),
        post_event("iso-a-x", MARK, tenant=s.a),
    )
    response = call(api, "POST", "/v1/events", s.b_headers, json=[mine, theirs])
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "tenant_mismatch"
    assert [d["index"] for d in error["details"]] == [1]
    time.sleep(1.5)  # the sink runs here: anything published would be stored by now
    assert events_of(w, "iso-b-ok") == []
    assert events_of(w, "iso-a-x") == []


def _verdict(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/verdicts/iso-1", s.b_headers), s).status_code == 404
    assert api.get("/v1/verdicts/iso-1", headers=s.a_headers).status_code == 200  # it exists


def _posts(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = no_mark(call(api, "GET", "/v1/posts", s.b_headers, params={"q": MARK}), s).json()
    assert body["data"] == []
    csv = no_mark(call(api, "GET", "/v1/posts", s.b_headers, params={"format": "csv"}), s)
    assert csv.status_code == 200


def _authors(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/authors", s.b_headers), s).json()["data"] == []


def _author(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert call(api, "GET", "/v1/authors/iso-author", s.b_headers).status_code == 404
    assert api.get("/v1/authors/iso-author", headers=s.a_headers).status_code == 200


def _analytics(path: str) -> Check:
    def check(api: TestClient, s: Seed, w: Warehouse) -> None:
        response = no_mark(call(api, "GET", path, s.b_headers, params=RANGE), s)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("items", 0) == 0
        assert all(b["items"] == 0 for b in body.get("buckets", []))
        assert body.get("data", []) == []

    return check


def _media_batch(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = {"items": [{"url": "https://b.example/x.png", "media_type": "image", "owner": "o",
                       "external_id": "iso-b-media"}]}  # fmt: skip
    response = call(api, "POST", "/v1/media/batch", s.b_headers, json=body)
    assert response.status_code == 202
    assert wait_for(lambda: events_of(w, "media-iso-b-media"), what="the media event") == [s.b]


def _bank_import(api: TestClient, s: Seed, w: Warehouse) -> None:
    entry = {"hash_type": "sha256", "value": "cd" * 32, "entry_id": "iso-entry"}
    body = {"label": "b", "source": "b", "decision": "approve", "entries": [entry]}
    assert call(api, "POST", "/v1/media/banks/iso-bank/entries", s.b_headers,
                json=body).status_code == 202  # fmt: skip
    time.sleep(1.5)
    rows = w.rows("SELECT tenant, decision FROM bank_entries FINAL WHERE entry_id = 'iso-entry' "
                  "ORDER BY tenant")  # fmt: skip
    assert {r["tenant"]: r["decision"] for r in rows}[s.a] == "reject"  # A's is untouched


def _bank_status(api: TestClient, s: Seed, w: Warehouse) -> None:
    response = call(api, "PUT", "/v1/media/banks/iso-bank/entries/iso-entry/status", s.b_headers,
                    json={"status": "removed"})  # fmt: skip
    assert response.status_code in (200, 404)  # B may have its own iso-entry after _bank_import
    rows = w.rows("SELECT status FROM bank_entries FINAL WHERE tenant = {t:String}", {"t": s.a})
    assert [r["status"] for r in rows] == ["active"]


def _banks(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert no_mark(call(api, "GET", "/v1/media/banks", s.b_headers), s).status_code == 200


def _bank_entries(api: TestClient, s: Seed, w: Warehouse) -> None:
    no_mark(call(api, "GET", "/v1/media/banks/iso-bank/entries", s.b_headers), s)


def _media(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert call(api, "GET", "/v1/media/iso-m1", s.b_headers).status_code == 404
    assert api.get("/v1/media/iso-m1", headers=s.a_headers).status_code == 200


def _duplicates(api: TestClient, s: Seed, w: Warehouse) -> None:
    assert call(api, "GET", "/v1/media/iso-m1/duplicates", s.b_headers).status_code == 404


def _sse(api: TestClient, s: Seed, w: Warehouse) -> None:
    """The feed's tenant is the caller's: a `tenant` parameter is refused, not obeyed."""
    response = call(api, "GET", "/v1/verdicts/stream", s.b_headers, params={"tenant": s.a})
    assert response.status_code == 422


def _ws(api: TestClient, s: Seed, w: Warehouse) -> None:
    from tests.support.verdicts import publish, verdict

    bootstrap = state_of(api).bootstrap
    with api.websocket_connect("/v1/verdicts/ws", headers=s.b_headers) as ws:
        assert ws.receive_json()["type"] == "ready"
        asyncio.run(publish(bootstrap, [verdict(s.a, 1), verdict(s.b, 2)]))
        assert ws.receive_json()["verdict"]["tenant"] == s.b  # A's came first and was not sent


def _block_a(api: TestClient, s: Seed, w: Warehouse) -> None:
    """A's author `iso-author` has a strike and is blocked (in A's tenant only)."""
    from infra.warehouse.sink import STRIKES
    from schemas.rows import STRIKE_ROWS
    from schemas.strikes import BlockAction, BlockChange, Strike

    now = datetime.now(UTC)
    strike = Strike(
        strike_id="strike:iso-1", tenant=s.a, author="iso-author", verdict_event_id="iso-1",
        source="chat", occurred_at=now, strikes=1, limit=5, window_s=86_400,
    )  # fmt: skip
    w.insert(STRIKES.name, [STRIKE_ROWS.row(strike)], STRIKES.columns)
    state_of(api).blocks.apply(
        BlockChange(
            change_id=f"iso-block-{s.a}", tenant=s.a, author="iso-author",
            action=BlockAction.BLOCK, at=now, actor="strikes", strikes=5, reason=MARK,
        )
    )  # fmt: skip


def _strikes(api: TestClient, s: Seed, w: Warehouse) -> None:
    _block_a(api, s, w)
    report = no_mark(call(api, "GET", "/v1/authors/iso-author/strikes", s.b_headers), s).json()
    assert report["strikes"] == 0
    assert not report["blocked"]
    assert report["block"] is None


def _can_chat(api: TestClient, s: Seed, w: Warehouse) -> None:
    _block_a(api, s, w)
    answer = no_mark(call(api, "GET", "/v1/authors/iso-author/can-chat", s.b_headers), s)
    assert answer.json()["can_chat"] is True


def _unblock(api: TestClient, s: Seed, w: Warehouse) -> None:
    _block_a(api, s, w)
    call(api, "POST", "/v1/authors/iso-author/unblock", s.b_headers, json={})
    assert state_of(api).blocks.blocked(s.a, "iso-author") is not None  # still blocked in A


def _a_post(w: Warehouse, s: Seed) -> str:
    """A post of tenant A, stored and judged."""
    store(w, [verdict_row(s.a, "iso-post", author="iso-author")], text=f"{MARK} {{id}}")
    return "iso-post"


def _create_post(api: TestClient, s: Seed, w: Warehouse) -> None:
    made = call(api, "POST", "/v1/posts", s.b_headers, json={"text": "hi", "author": "b"})
    assert made.status_code == 202
    event_id = made.json()["id"]
    assert wait_for(lambda: events_of(w, event_id), what="the post event") == [s.b]


def _comment(api: TestClient, s: Seed, w: Warehouse) -> None:
    post = _a_post(w, s)
    response = call(api, "POST", f"/v1/posts/{post}/comments", s.b_headers,
                    json={"text": "hi", "author": "b"})  # fmt: skip
    assert response.status_code == 404
    time.sleep(1.5)
    assert api.get(f"/v1/posts/{post}/thread", headers=s.a_headers).json()["comments"] == []


def _thread(api: TestClient, s: Seed, w: Warehouse) -> None:
    post = _a_post(w, s)
    assert no_mark(call(api, "GET", f"/v1/posts/{post}/thread", s.b_headers), s).status_code == 404
    assert api.get(f"/v1/posts/{post}/thread", headers=s.a_headers).status_code == 200


_X_ACCOUNTS: dict[str, int] = {}


def _a_x_account(api: TestClient, s: Seed) -> int:
    """An X account connected by A (stored directly: no X here), with A's mark in it."""
    from infra.accounts.models import XAccount

    if s.a not in _X_ACCOUNTS:
        with state_of(api).accounts.session() as session:
            account = XAccount(
                tenant=s.a, x_user_id="1", username="iso-x", access_token="sealed",
                refresh_token=None, expires_at=datetime.now(UTC) + timedelta(hours=1), scopes="",
                since_id=7, connected_by="tests", last_error=MARK,
            )  # fmt: skip
            session.add(account)
            session.flush()
            _X_ACCOUNTS[s.a] = account.id
    return _X_ACCOUNTS[s.a]


def _x_row_of_a(api: TestClient, s: Seed) -> Any:
    from infra.accounts.models import XAccount

    with state_of(api).accounts.session() as session:
        return session.get(XAccount, _a_x_account(api, s))


def _x_connect(api: TestClient, s: Seed, w: Warehouse) -> None:
    """B's connection is B's (or refused where X is not configured); A gets no pending one."""
    from infra.accounts.models import XAuthState

    response = call(api, "POST", "/v1/x/connect", s.b_headers)
    assert response.status_code in (200, 409), response.text
    with state_of(api).accounts.session() as session:
        assert session.query(XAuthState).filter_by(tenant=s.a).count() == 0


def _x_accounts(api: TestClient, s: Seed, w: Warehouse) -> None:
    account = _a_x_account(api, s)
    listed = no_mark(call(api, "GET", "/v1/x/accounts", s.b_headers), s).json()["data"]
    assert account not in [a["id"] for a in listed]


def _x_disconnect(api: TestClient, s: Seed, w: Warehouse) -> None:
    account = _a_x_account(api, s)
    assert call(api, "DELETE", f"/v1/x/accounts/{account}", s.b_headers).status_code == 404
    assert _x_row_of_a(api, s) is not None


def _x_preview(api: TestClient, s: Seed, w: Warehouse) -> None:
    account = _a_x_account(api, s)
    response = call(api, "POST", f"/v1/x/accounts/{account}/preview", s.b_headers, json={})
    assert no_mark(response, s).status_code == 404
    row = _x_row_of_a(api, s)
    assert (row.since_id, row.last_poll_at) == (7, None)  # not polled


def _assist(api: TestClient, s: Seed, w: Warehouse) -> None:
    """The tenant (and so the policy) is the caller's: naming another is refused."""
    body = {"text": "hello", "tenant": s.a}
    response = no_mark(call(api, "POST", "/v1/assist", s.b_headers, json=body), s)
    assert response.status_code == 422
    assert ["body", "tenant"] in [d["loc"] for d in response.json()["error"]["details"]]


def _moderate(api: TestClient, s: Seed, w: Warehouse) -> None:
    """The tenant (policy, stored item) is the caller's: naming another is refused, unjudged."""
    body = {"text": "hello", "tenant": s.a}
    response = no_mark(call(api, "POST", "/v1/moderate", s.b_headers, json=body), s)
    assert response.status_code == 422
    assert ["body", "tenant"] in [d["loc"] for d in response.json()["error"]["details"]]


def _perspective(api: TestClient, s: Seed, w: Warehouse) -> None:
    key = s.b_headers["Authorization"].split()[-1]
    body = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}, "tenant": s.a}
    path = f"/v1alpha1/comments:analyze?key={key}"
    response = no_mark(call(api, "POST", path, {"Authorization": ""}, json=body), s)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def _openai(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = {"input": "hello", "tenant": s.a}
    response = no_mark(call(api, "POST", "/v1/moderations", s.b_headers, json=body), s)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def _a_dead_letter(api: TestClient, s: Seed, w: Warehouse) -> str:
    """A dead letter of tenant A whose record (A's mark in it) could be replayed."""
    from infra.warehouse.sink import DEAD, dead_letter_row
    from schemas.records import DeadLetter, DeadLetterReason

    raw = json.dumps(post_event("iso-dead", MARK, tenant=s.a))
    letter = DeadLetter(
        topic="events.text", partition=0, offset=4_000_000_000_000,
        reason=DeadLetterReason.PROCESSING_ERROR, detail=MARK, raw=raw,
        raw_size=len(raw.encode()), tenant=s.a, event_id="iso-dead", failed_at=datetime.now(UTC),
    )  # fmt: skip
    w.insert(DEAD.name, [dead_letter_row(letter)], DEAD.columns)
    return "events.text:0:4000000000000"


def _dead_letters(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_dead_letter(api, s, w)
    assert no_mark(call(api, "GET", "/v1/deadletters", s.b_headers), s).json()["data"] == []
    assert api.get("/v1/deadletters", headers=s.a_headers).json()["data"]  # it exists


def _dead_letter(api: TestClient, s: Seed, w: Warehouse) -> None:
    dead = _a_dead_letter(api, s, w)
    assert no_mark(call(api, "GET", f"/v1/deadletters/{dead}", s.b_headers), s).status_code == 404
    assert api.get(f"/v1/deadletters/{dead}", headers=s.a_headers).status_code == 200


def _replay(api: TestClient, s: Seed, w: Warehouse) -> None:
    dead = _a_dead_letter(api, s, w)
    by_id = call(api, "POST", "/v1/deadletters/replay", s.b_headers, json={"ids": [dead]})
    assert no_mark(by_id, s).status_code == 404
    by_filter = call(api, "POST", "/v1/deadletters/replay", s.b_headers,
                     json={"filter": {"event_id": "iso-dead"}})  # fmt: skip
    assert no_mark(by_filter, s).json()["replayed"] == []
    assert events_of(w, "iso-dead") == []
    replays = w.rows("SELECT count() AS n FROM dead_letter_replays WHERE event_id = 'iso-dead'")
    assert replays[0]["n"] == 0


# Review (api/review): A has a queue, an open entry, a decided one and a webhook.
_A_REVIEW: dict[str, dict[str, Any]] = {}


def _a_review(api: TestClient, s: Seed) -> dict[str, Any]:
    if s.a in _A_REVIEW:
        return _A_REVIEW[s.a]
    from api.review import items
    from api.review.items import Subject
    from infra.accounts.review import DECIDED
    from schemas.moderation import Origin

    put = call(api, "PUT", "/v1/review/queues/iso-a-queue", s.a_headers, json={"sla_seconds": 600})
    assert put.status_code == 200
    now = datetime.now(UTC)
    with state_of(api).accounts.session() as session:
        open_entry = items.enqueue(
            session, Subject(s.a, "iso-1", "iso-1", "iso-author", "comments", "post", now, "en",
                             {"toxic": 0.9}, 0.9, "reject"),
            strikes=0, now=now, origin=Origin.VERDICT,
        )  # fmt: skip
        decided = items.enqueue(
            session, Subject(s.a, "iso-2", "iso-2", "iso-author", "comments", "post", now, "en",
                             {"toxic": 0.9}, 0.9, "reject"),
            strikes=0, now=now, origin=Origin.VERDICT,
        )  # fmt: skip
        decided.state, decided.decided_at = DECIDED, now
        decided.action_id, decided.decided_action = "act-iso", "remove"
        ids = (open_entry.id, decided.id)
    hook = call(api, "POST", "/v1/webhooks", s.a_headers,
                json={"url": f"https://a.example/{MARK}"}).json()  # fmt: skip
    desk = call(api, "POST", "/v1/tokens", s.a_headers, json={"name": MARK, "scopes": ["review"]})
    grant = f"token:{desk.json()['id']}"
    put_grant = call(api, "PUT", f"/v1/review/grants/{grant}", s.a_headers,
                     json={"queues": ["iso-a-queue"]})  # fmt: skip
    assert put_grant.status_code == 200
    _A_REVIEW[s.a] = {"item": ids[0], "decided": ids[1], "hook": hook["id"], "grant": grant}
    return _A_REVIEW[s.a]


def _a_reason(api: TestClient, s: Seed) -> str:
    body = {"title": MARK, "dsa_category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"}
    assert call(api, "PUT", "/v1/review/reasons/iso_a", s.a_headers, json=body).is_success
    return "iso_a"


def _a_reason_title(api: TestClient, s: Seed) -> str:
    mine = call(api, "GET", "/v1/review/reasons", s.a_headers).json()
    return str(next(r["title"] for r in mine if r["code"] == "iso_a"))


def _review_reasons(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_reason(api, s)
    theirs = no_mark(call(api, "GET", "/v1/review/reasons", s.b_headers), s).json()
    assert "iso_a" not in [r["code"] for r in theirs]


def _review_put_reason(api: TestClient, s: Seed, w: Warehouse) -> None:
    code = _a_reason(api, s)
    body = {"title": "B's own", "dsa_category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"}
    made = no_mark(call(api, "PUT", f"/v1/review/reasons/{code}", s.b_headers, json=body), s)
    assert made.status_code == 201  # B's own reason of that code, not A's changed
    assert _a_reason_title(api, s) == MARK
    call(api, "DELETE", f"/v1/review/reasons/{code}", s.b_headers)


def _review_drop_reason(api: TestClient, s: Seed, w: Warehouse) -> None:
    code = _a_reason(api, s)
    gone = no_mark(call(api, "DELETE", f"/v1/review/reasons/{code}", s.b_headers), s)
    assert gone.status_code == 404
    assert _a_reason_title(api, s) == MARK


def _review_queues(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    queues = no_mark(call(api, "GET", "/v1/review/queues", s.b_headers), s).json()
    assert "iso-a-queue" not in [q["name"] for q in queues]


def _review_put_queue(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    body = {"sla_seconds": 7200}
    assert call(api, "PUT", "/v1/review/queues/iso-a-queue", s.b_headers, json=body).is_success
    mine = call(api, "GET", "/v1/review/queues", s.a_headers).json()
    assert [q["sla_seconds"] for q in mine if q["name"] == "iso-a-queue"] == [600]
    call(api, "DELETE", "/v1/review/queues/iso-a-queue", s.b_headers)


def _review_drop_queue(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    call(api, "DELETE", "/v1/review/queues/iso-a-queue", s.b_headers)
    mine = call(api, "GET", "/v1/review/queues", s.a_headers).json()
    assert "iso-a-queue" in [q["name"] for q in mine]


def _review_items(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    page = no_mark(call(api, "GET", "/v1/review/queues/default/items", s.b_headers), s).json()
    assert "iso-1" not in [i["event_id"] for i in page["data"]]


def _review_claim_next(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    claimed = call(api, "POST", "/v1/review/queues/default/claim", s.b_headers)
    assert claimed.status_code == 204 or claimed.json()["event_id"] != "iso-1"


def _review_on_item(method: str, suffix: str, body: dict[str, Any] | None = None) -> Check:
    def check(api: TestClient, s: Seed, w: Warehouse) -> None:
        item = _a_review(api, s)["item"]
        path = f"/v1/review/items/{item}{suffix}"
        assert call(api, method, path, s.b_headers, json=body).status_code == 404

    return check


def _reports(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = {"event_id": "iso-1", "category": "spam", "reporter": "r"}
    assert call(api, "POST", "/v1/reports", s.b_headers, json=body).status_code == 404


def _appeals(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    body = {"action_id": "act-iso", "author": "iso-author"}
    assert call(api, "POST", "/v1/appeals", s.b_headers, json=body).status_code == 404


def _agreement(api: TestClient, s: Seed, w: Warehouse) -> None:
    found = no_mark(call(api, "GET", "/v1/review/agreement", s.b_headers), s).json()
    assert found["decisions"] == 0


def _webhooks_create(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    made = call(api, "POST", "/v1/webhooks", s.b_headers, json={"url": "https://b.example/h"})
    assert made.status_code == 201
    mine = call(api, "GET", "/v1/webhooks", s.a_headers).json()
    assert "https://b.example/h" not in [h["url"] for h in mine]


def _webhooks_list(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    assert no_mark(call(api, "GET", "/v1/webhooks", s.b_headers), s).status_code == 200


def _webhooks_delete(api: TestClient, s: Seed, w: Warehouse) -> None:
    hook = _a_review(api, s)["hook"]
    assert call(api, "DELETE", f"/v1/webhooks/{hook}", s.b_headers).status_code == 404


def _webhooks_log(api: TestClient, s: Seed, w: Warehouse) -> None:
    hook = _a_review(api, s)["hook"]
    assert call(api, "GET", f"/v1/webhooks/{hook}/deliveries", s.b_headers).status_code == 404


def _grants_list(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_review(api, s)
    assert no_mark(call(api, "GET", "/v1/review/grants", s.b_headers), s).json() == []


def _grants_put(api: TestClient, s: Seed, w: Warehouse) -> None:
    grant = _a_review(api, s)["grant"]
    body = {"queues": ["default"]}
    assert call(api, "PUT", f"/v1/review/grants/{grant}", s.b_headers, json=body).status_code == 404
    mine = call(api, "GET", "/v1/review/grants", s.a_headers).json()
    assert {"reviewer": grant, "queues": ["iso-a-queue"]} in mine


def _grants_delete(api: TestClient, s: Seed, w: Warehouse) -> None:
    grant = _a_review(api, s)["grant"]
    assert call(api, "DELETE", f"/v1/review/grants/{grant}", s.b_headers).status_code == 404
    mine = call(api, "GET", "/v1/review/grants", s.a_headers).json()
    assert {"reviewer": grant, "queues": ["iso-a-queue"]} in mine


def _dsa(path: str) -> Check:
    def check(api: TestClient, s: Seed, w: Warehouse) -> None:
        assert no_mark(call(api, "GET", path, s.b_headers), s).status_code == 200

    return check


_RULES = """rule insults:
    when scores.insult > 0.8
    then reject
    example fires: scores.insult = 0.9
"""


def _a_rules(api: TestClient, s: Seed) -> str:
    """Tenant A's rule set (saved once; later saves are new versions of the same text)."""
    assert call(api, "PUT", "/v1/tenant/rules", s.a_headers, json={"source": _RULES}).is_success
    return _RULES


def _get_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_rules(api, s)
    assert call(api, "GET", "/v1/tenant/rules", s.b_headers).json()["source"] != _RULES


def _save_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_rules(api, s)
    assert call(api, "PUT", "/v1/tenant/rules", s.b_headers, json={"source": ""}).is_success
    assert call(api, "GET", "/v1/tenant/rules", s.a_headers).json()["source"] == _RULES


def _validate_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_rules(api, s)  # validating reads nothing stored: B's answer is about B's text alone
    answer = call(api, "POST", "/v1/tenant/rules/validate", s.b_headers, json={"source": "x"})
    assert answer.status_code == 200
    assert "insults" not in answer.text


def _rule_versions(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_rules(api, s)
    assert _RULES not in call(api, "GET", "/v1/tenant/rules/versions", s.b_headers).text


def _rollback_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    _a_rules(api, s)
    call(api, "POST", "/v1/tenant/rules/rollback", s.b_headers, json={"version": 1})
    assert call(api, "GET", "/v1/tenant/rules", s.b_headers).json()["source"] != _RULES
    assert call(api, "GET", "/v1/tenant/rules", s.a_headers).json()["source"] == _RULES


def _backtest_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    body = {"source": _RULES}
    answer = call(api, "POST", "/v1/tenant/rules/backtest", s.b_headers, json=body)
    assert answer.status_code == 200, answer.text
    assert "iso-1" not in answer.text  # A's stored verdict is no example of B's backtest


def _shadow_rules(api: TestClient, s: Seed, w: Warehouse) -> None:
    answer = call(api, "GET", "/v1/tenant/rules/shadow", s.b_headers)
    assert answer.status_code == 200, answer.text
    assert "iso-1" not in answer.text


CHECKS: dict[tuple[str, str], Check] = {
    ("GET", "/v1/me"): _me,
    ("POST", "/v1/auth/logout"): _logout,
    ("POST", "/v1/tokens"): _create_token,
    ("GET", "/v1/tokens"): _list_tokens,
    ("DELETE", "/v1/tokens/{token_id}"): _revoke_token,
    ("GET", "/v1/tenant"): _tenant,
    ("PUT", "/v1/tenant/privacy"): _privacy,
    ("GET", "/v1/tenant/policy"): _get_policy,
    ("PUT", "/v1/tenant/policy"): _set_policy,
    ("DELETE", "/v1/tenant/policy"): _drop_policy,
    ("GET", "/v1/tenant/rules"): _get_rules,
    ("PUT", "/v1/tenant/rules"): _save_rules,
    ("POST", "/v1/tenant/rules/validate"): _validate_rules,
    ("GET", "/v1/tenant/rules/versions"): _rule_versions,
    ("POST", "/v1/tenant/rules/rollback"): _rollback_rules,
    ("POST", "/v1/tenant/rules/backtest"): _backtest_rules,
    ("GET", "/v1/tenant/rules/shadow"): _shadow_rules,
    ("GET", "/v1/users"): _users,
    ("POST", "/v1/invites"): _create_invite,
    ("GET", "/v1/invites"): _list_invites,
    ("DELETE", "/v1/invites/{invite_id}"): _deactivate_invite,
    ("GET", "/v1/usage"): _usage,
    ("GET", "/v1/audit"): _audit,
    ("POST", "/v1/events"): _events,
    ("GET", "/v1/verdicts/{event_id}"): _verdict,
    ("GET", "/v1/posts"): _posts,
    ("GET", "/v1/authors"): _authors,
    ("GET", "/v1/authors/{author}"): _author,
    ("GET", "/v1/authors/{author}/strikes"): _strikes,
    ("GET", "/v1/authors/{author}/can-chat"): _can_chat,
    ("POST", "/v1/authors/{author}/unblock"): _unblock,
    ("POST", "/v1/x/connect"): _x_connect,
    ("GET", "/v1/x/accounts"): _x_accounts,
    ("DELETE", "/v1/x/accounts/{account_id}"): _x_disconnect,
    ("POST", "/v1/x/accounts/{account_id}/preview"): _x_preview,
    ("GET", "/v1/analytics/timeseries"): _analytics("/v1/analytics/timeseries"),
    ("GET", "/v1/analytics/breakdown"): _analytics("/v1/analytics/breakdown"),
    ("GET", "/v1/analytics/overview"): _analytics("/v1/analytics/overview"),
    ("GET", "/v1/analytics/activity"): _analytics("/v1/analytics/activity"),
    ("POST", "/v1/media/batch"): _media_batch,
    ("POST", "/v1/media/banks/{bank}/entries"): _bank_import,
    ("PUT", "/v1/media/banks/{bank}/entries/{entry_id}/status"): _bank_status,
    ("GET", "/v1/media/banks"): _banks,
    ("GET", "/v1/media/banks/{bank}/entries"): _bank_entries,
    ("GET", "/v1/media/{event_id}"): _media,
    ("GET", "/v1/media/{event_id}/duplicates"): _duplicates,
    ("GET", "/v1/verdicts/stream"): _sse,
    ("WS", "/v1/verdicts/ws"): _ws,
    ("POST", "/v1/assist"): _assist,
    ("POST", "/v1/moderate"): _moderate,
    ("POST", "/v1alpha1/comments:analyze"): _perspective,
    ("POST", "/v1/moderations"): _openai,
    ("GET", "/v1/deadletters"): _dead_letters,
    ("GET", "/v1/deadletters/{dead_letter_id}"): _dead_letter,
    ("POST", "/v1/deadletters/replay"): _replay,
    ("POST", "/v1/posts"): _create_post,
    ("POST", "/v1/posts/{post_id}/comments"): _comment,
    ("GET", "/v1/posts/{post_id}/thread"): _thread,
    ("GET", "/v1/review/reasons"): _review_reasons,
    ("PUT", "/v1/review/reasons/{code}"): _review_put_reason,
    ("DELETE", "/v1/review/reasons/{code}"): _review_drop_reason,
    ("GET", "/v1/review/queues"): _review_queues,
    ("PUT", "/v1/review/queues/{queue}"): _review_put_queue,
    ("DELETE", "/v1/review/queues/{queue}"): _review_drop_queue,
    ("GET", "/v1/review/queues/{queue}/items"): _review_items,
    ("POST", "/v1/review/queues/{queue}/claim"): _review_claim_next,
    ("GET", "/v1/review/items/{review_item}"): _review_on_item("GET", ""),
    ("POST", "/v1/review/items/{review_item}/claim"): _review_on_item("POST", "/claim"),
    ("POST", "/v1/review/items/{review_item}/release"): _review_on_item("POST", "/release"),
    ("POST", "/v1/review/items/{review_item}/reassign"): _review_on_item(
        "POST", "/reassign", {"reviewer": "user:b"}
    ),
    ("POST", "/v1/review/items/{review_item}/decision"): _review_on_item(
        "POST", "/decision", {"action": "approve", "reason": "no_violation"}
    ),
    ("GET", "/v1/review/agreement"): _agreement,
    ("GET", "/v1/review/grants"): _grants_list,
    ("PUT", "/v1/review/grants/{reviewer}"): _grants_put,
    ("DELETE", "/v1/review/grants/{reviewer}"): _grants_delete,
    ("POST", "/v1/reports"): _reports,
    ("POST", "/v1/appeals"): _appeals,
    ("POST", "/v1/webhooks"): _webhooks_create,
    ("GET", "/v1/webhooks"): _webhooks_list,
    ("DELETE", "/v1/webhooks/{hook}"): _webhooks_delete,
    ("GET", "/v1/webhooks/{hook}/deliveries"): _webhooks_log,
    ("GET", "/v1/dsa/statements"): _dsa("/v1/dsa/statements"),
    ("GET", "/v1/dsa/summary"): _dsa("/v1/dsa/summary"),
}


def test_every_route_is_covered_here(api: TestClient) -> None:
    # The console's pages call these routes' functions with the session's tenant:
    # tests/unit/test_console.py checks them against another tenant's moderator.
    routes = {r for r in every_route(api.app) if not console_route(r)}
    assert routes - PUBLIC == set(CHECKS), "a route without an isolation check (or a stale one)"
    assert routes >= PUBLIC


@pytest.mark.parametrize("route", sorted(CHECKS), ids=lambda r: f"{r[0]} {r[1]}")
def test_another_tenant_neither_reads_nor_writes(
    api: TestClient, warehouse: Warehouse, seed: Seed, route: tuple[str, str]
) -> None:
    CHECKS[route](api, seed, warehouse)


def test_the_websocket_accepts_a_token_in_the_query_for_browsers(
    api: TestClient, seed: Seed
) -> None:
    with api.websocket_connect(f"/v1/verdicts/ws?token={seed.a_token}", headers=anonymous()) as ws:
        assert ws.receive_json()["type"] == "ready"
    reader = as_tenant(api, seed.b, ("ingest",))  # no `read` scope: 403
    with pytest.raises(WebSocketDenialResponse) as denied:  # noqa: SIM117
        with api.websocket_connect("/v1/verdicts/ws", headers=reader):
            pass
    assert denied.value.status_code == 403
