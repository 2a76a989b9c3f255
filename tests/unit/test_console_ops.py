"""The console's operations and rules pages without a browser: sign-out revoking the session,
tokens and invites made (their secret shown once) and revoked, the policy form's problems beside
their fields, webhooks added and stopped, the rules editor's checks, versions and rollback, the
admin-only forms refused to others, and every one of these routes against another tenant's admin
(who gets nothing of the owner's and changes nothing of it). The browser drives the same pages
with the real warehouse and broker in tests/integration/test_console.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.accounts import service
from infra.accounts.models import ApiToken, AuditEntry, Invite, Tenant, TenantPolicy, TenantRules
from infra.accounts.review import WebhookEndpoint
from tests.support.accounts import make_user, state_of
from tests.support.fakes import RecordingPublisher
from tests.support.read_rows import new_tenant
from tests.support.routes import console_routes
from tests.unit.test_console import csrf_of, sign_in

RULES = """counter links = count by author within 10m

rule link_flood:
    when links >= 10 and author.items < 20
    then reject, label "spam"
    example fires: links = 12, author.items = 3
"""
BROKEN = "rule oops:\n    when scroes.insult > 0.5\n    then reject\n"  # line 2, column 10


@pytest.fixture
def browser(api: TestClient) -> Iterator[TestClient]:
    """A cookie jar of its own, over https (the cookies are Secure outside development)."""
    client = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    yield client
    client.close()


def admin_of(api: TestClient, browser: TestClient, tenant: str | None = None) -> tuple[str, str]:
    """An admin of a new (or the given) tenant, signed in: (tenant, email)."""
    tenant = tenant or new_tenant()
    email = make_user(api, tenant, "admin")
    sign_in(browser, email)
    return tenant, email


def page_csrf(browser: TestClient, path: str = "/console/operations/tokens") -> str:
    return csrf_of(browser.get(path).text)


def audited(api: TestClient, tenant: str, action: str) -> list[AuditEntry]:
    with state_of(api).accounts.session() as db:
        return service.entries(db, tenant, action, 100)


def test_sign_out_revokes_the_session_token(api: TestClient, browser: TestClient) -> None:
    tenant, email = admin_of(api, browser)
    token = browser.cookies["modstream_console"]
    assert api.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    out = browser.post("/console/logout", data={"csrf": page_csrf(browser, "/console/rules")})
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")

    # The old cookie value, replayed by another client, no longer makes a session.
    thief = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    thief.cookies.set("modstream_console", token, domain="testserver", path="/console")
    again = thief.get("/console/operations/tokens")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/console/login")
    refused = api.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert "signed out" in refused.json()["error"]["message"]
    [entry] = audited(api, tenant, "logout")
    assert entry.actor == f"user:{email}"
    sign_in(browser, email)  # a new sign-in makes a new, valid session
    assert browser.get("/console/operations/tokens").status_code == 200


def test_a_token_is_created_shown_once_and_revoked(api: TestClient, browser: TestClient) -> None:
    tenant = new_tenant()
    sign_in(browser, make_user(api, tenant, "member"))
    csrf = page_csrf(browser)
    beyond = browser.post(
        "/console/operations/tokens", data={"csrf": csrf, "name": "x", "scopes": "admin"}
    )
    assert (beyond.status_code, "cannot grant scopes you lack: admin" in beyond.text) == (200, True)

    made = browser.post("/console/operations/tokens", data={"csrf": csrf, "name": "feed-reader",
                                                            "scopes": "read"})  # fmt: skip
    assert made.status_code == 200
    secret = re.search(r'<code id="secret">(mod_[^<]+)</code>', made.text)
    assert secret, made.text
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert api.get("/v1/me", headers=bearer).json()["scopes"] == ["read"]
    listed = browser.get("/console/operations/tokens").text
    assert "feed-reader" in listed
    assert secret.group(1) not in listed  # shown once

    with state_of(api).accounts.session() as db:
        ident = db.scalar(select(ApiToken.id).where(ApiToken.name == "feed-reader",
                                                    ApiToken.scopes == "read"))  # fmt: skip
    out = browser.post("/console/operations/tokens/revoke", data={"csrf": csrf, "token": ident})
    assert out.status_code == 303
    assert "revoked" in browser.get("/console/operations/tokens").text
    assert api.get("/v1/me", headers=bearer).status_code == 401
    assert [e.action for e in audited(api, tenant, "token.revoke")] == ["token.revoke"]


def test_invites_are_for_admins_and_deactivated(api: TestClient, browser: TestClient) -> None:
    tenant, _ = admin_of(api, browser)
    csrf = page_csrf(browser, "/console/operations/invites")
    made = browser.post("/console/operations/invites",
                        data={"csrf": csrf, "role": "moderator", "max_uses": "3"})  # fmt: skip
    code = re.search(r'<code id="secret">(inv_[^<]+)</code>', made.text)
    assert (made.status_code, bool(code)) == (200, True)
    bad = browser.post("/console/operations/invites", data={"csrf": csrf, "role": "owner"})
    assert "role: Input should be" in bad.text
    with state_of(api).accounts.session() as db:
        invite = db.scalars(select(Invite).join(Tenant).where(Tenant.name == tenant)).one()
    assert (invite.role, invite.max_uses, invite.active) == ("moderator", 3, True)
    browser.post("/console/operations/invites/revoke", data={"csrf": csrf, "invite": invite.id})
    with state_of(api).accounts.session() as db:
        assert db.get(Invite, invite.id).active is False
    assert audited(api, tenant, "invite.deactivate")

    member = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    sign_in(member, make_user(api, tenant, "member"))
    assert member.get("/console/operations/invites").status_code == 403
    refused = member.post("/console/operations/invites", data={"csrf": csrf, "role": "admin"})
    assert refused.status_code == 403


def test_policy_problems_are_shown_beside_their_fields(
    api: TestClient, browser: TestClient
) -> None:
    tenant, _ = admin_of(api, browser)
    csrf = page_csrf(browser, "/console/operations/policy")
    bad = browser.post("/console/operations/policy", data={
        "csrf": csrf, "toxic_low": "0.9", "toxic_high": "0.2",
        "label_0_name": "Insult!", "label_0_low": "0.1", "label_0_high": "0.5",
        "label_1_name": "threat", "label_1_low": "lots", "label_1_high": "0.5",
    })  # fmt: skip
    assert "nothing was saved" in bad.text
    assert re.search(r'id="label_1_low-problem"[^>]*>a number from 0 to 1<', bad.text)
    assert 'value="lots"' in bad.text  # what was typed stays
    fixed = browser.post("/console/operations/policy", data={
        "csrf": csrf, "toxic_low": "0.9", "toxic_high": "0.2", "label_0_name": "Insult!",
        "label_0_low": "0.1", "label_0_high": "0.5",
    })  # fmt: skip
    assert re.search(r'id="toxic_high-problem"[^>]*>low \(0.9\) must not be above', fixed.text)
    assert re.search(r'id="label_0_name-problem"[^>]*>String should match', fixed.text)
    crossed = browser.post("/console/operations/policy", data={
        "csrf": csrf, "label_0_name": "insult", "label_0_low": "0.7", "label_0_high": "0.5",
    })  # fmt: skip
    assert re.search(r'id="label_0_high-problem"[^>]*>low \(0.7\) must not be above', crossed.text)
    with state_of(api).accounts.session() as db:
        owner = service.tenant_by_name(db, tenant)
        assert db.get(TenantPolicy, owner.id) is None  # nothing saved

    good = browser.post("/console/operations/policy", data={
        "csrf": csrf, "toxic_low": "0.2", "toxic_high": "0.8", "label_0_name": "insult",
        "label_0_low": "0.1", "label_0_high": "0.5", "unknown_language": "review",
    })  # fmt: skip
    assert good.status_code == 303
    with state_of(api).accounts.session() as db:
        document = service.document_of(service.stored_policy(db, owner.id))
    assert document.model_dump(mode="json", exclude_defaults=True) == {
        "toxic": {"low": 0.2, "high": 0.8}, "labels": {"insult": {"low": 0.1, "high": 0.5}},
        "unknown_language": "review",
    }  # fmt: skip
    assert audited(api, tenant, "tenant.policy")
    assert 'value="0.8"' in browser.get("/console/operations/policy").text


def test_webhooks_are_added_with_a_secret_and_stopped(api: TestClient, browser: TestClient) -> None:
    tenant, _ = admin_of(api, browser)
    csrf = page_csrf(browser, "/console/operations/webhooks")
    bad = browser.post("/console/operations/webhooks", data={"csrf": csrf, "url": "ftp://x/y"})
    assert (bad.status_code, "url: String should match" in bad.text) == (200, True)
    url = "http://127.0.0.1:9/hooks/modstream"
    made = browser.post(
        "/console/operations/webhooks",
        content=f"csrf={csrf}&url={url}&events=action&events=verdict&verdict_decisions=reject",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (made.status_code, "whsec_" in made.text) == (200, True)
    with state_of(api).accounts.session() as db:
        hook = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant == tenant)).one()
    assert (hook.url, hook.events, hook.active) == (url, "action verdict:reject", True)
    browser.post("/console/operations/webhooks/disable", data={"csrf": csrf, "hook": hook.id})
    page = browser.get("/console/operations/webhooks").text
    assert "stopped; its log is kept" in page
    assert "Stop delivering" not in page


def test_a_webhook_for_named_rule_webhooks_is_added(api: TestClient, browser: TestClient) -> None:
    tenant, _ = admin_of(api, browser)
    csrf = page_csrf(browser, "/console/operations/webhooks")
    url = "http://127.0.0.1:9/hooks/rules"
    made = browser.post(
        "/console/operations/webhooks",
        content=f"csrf={csrf}&url={url}&events=rule&webhook_names=escalate%2C+spam-desk",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (made.status_code, "whsec_" in made.text) == (200, True)
    assert "(rules: escalate, spam-desk)" in made.text
    with state_of(api).accounts.session() as db:
        hook = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant == tenant)).one()
    assert hook.events == "rule:escalate rule:spam-desk"
    wrong = browser.post(
        "/console/operations/webhooks",
        content=f"csrf={csrf}&url={url}&events=action&webhook_names=escalate",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "webhook names need the &#39;rule&#39; event" in wrong.text


def test_rules_are_checked_saved_and_rolled_back(api: TestClient, browser: TestClient) -> None:
    tenant, _ = admin_of(api, browser)
    csrf = page_csrf(browser, "/console/rules")
    checked = browser.post("/console/rules/validate", data={"csrf": csrf, "source": BROKEN})
    assert checked.status_code == 200
    assert checked.json()["valid"] is False
    [problem] = checked.json()["problems"]
    assert (problem["line"], problem["column"]) == (2, 10)
    assert problem["reason"].startswith("unknown field 'scroes.insult'")
    ok = browser.post("/console/rules/validate", data={"csrf": csrf, "source": RULES}).json()
    assert (ok["valid"], ok["summary"]["counters"]) == (True, ["links"])
    forged = browser.post("/console/rules/validate", data={"csrf": "x", "source": RULES})
    assert forged.status_code == 403

    refused = browser.post("/console/rules", data={"csrf": csrf, "source": BROKEN})
    assert refused.status_code == 200  # the form again, with its problems
    assert re.search(
        r'data-line="2" data-column="10">line 2, column 10</button>: unknown field', refused.text
    )
    first = browser.post("/console/rules", data={"csrf": csrf, "source": RULES, "note": "floods"})
    assert first.status_code == 303
    second = RULES.replace("links >= 10", "links >= 11")
    saved = browser.post("/console/rules", data={"csrf": csrf, "source": second, "note": "x"})
    assert saved.status_code == 303
    back = browser.post("/console/rules/rollback", data={"csrf": csrf, "version": "1"})
    assert back.status_code == 303
    page = browser.get("/console/rules").text
    assert "Version 1 is back in force, as version 3." in page
    assert "links &gt;= 10" in page
    with state_of(api).accounts.session() as db:
        owner = service.tenant_by_name(db, tenant)
        versions = db.scalars(select(TenantRules.version).where(
            TenantRules.tenant_id == owner.id)).all()  # fmt: skip
    assert sorted(versions) == [1, 2, 3]
    assert len(audited(api, tenant, "tenant.rules")) == 3

    # A backtest preview keeps the draft; here the warehouse is absent, and the page says so.
    preview = browser.post("/console/rules/backtest",
                           data={"csrf": csrf, "source": second, "days": "30"})  # fmt: skip
    assert (preview.status_code, "warehouse did not answer" in preview.text) == (200, True)
    assert "links &gt;= 11" in preview.text


def test_members_read_but_do_not_change(api: TestClient, browser: TestClient) -> None:
    sign_in(browser, make_user(api, new_tenant(), "member"))
    csrf = page_csrf(browser, "/console/rules")
    for path in ("/console/rules", "/console/operations", "/console/operations/policy"):
        assert browser.get(path).status_code == 200, path
    for path in ("/console/operations/webhooks", "/console/operations/audit"):
        assert browser.get(path).status_code == 403, path
    for path, form in (
        ("/console/rules", {"source": RULES}),
        ("/console/rules/rollback", {"version": "1"}),
        ("/console/operations/policy", {"toxic_low": "0.1", "toxic_high": "0.2"}),
        ("/console/operations/deadletters/replay", {"id": "events.text:0:1"}),
    ):
        assert browser.post(path, data={"csrf": csrf, **form}).status_code == 403, path
    assert browser.post("/console/rules/validate",
                        data={"csrf": csrf, "source": RULES}).status_code == 200  # fmt: skip


# Another tenant's admin, route by route.


@dataclass
class Owner:
    tenant: str
    email: str
    token_id: int
    token_name: str
    invite_id: int
    hook_id: int
    hook_url: str


def _owner(api: TestClient) -> Owner:
    """A tenant with a token, an invite, a webhook, a policy and two rule versions."""
    tenant = new_tenant()
    email = make_user(api, tenant, "admin")
    state = state_of(api)
    name, url = f"secret-name-{tenant}", f"http://127.0.0.1:9/{tenant}"
    with state.accounts.session() as db:
        found = service.tenant_by_name(db, tenant)
        token, _ = service.create_token(
            db, state.settings.accounts, found, name=name, scopes=frozenset({"read"}),
            user_id=None, expires_at=None, actor="tests", ctx=service.CLI,
        )  # fmt: skip
        invite, _ = service.create_invite(db, found, role="member", max_uses=1, expires_at=None,
                                          actor="tests", ctx=service.CLI)  # fmt: skip
    owner = TestClient(api.app, base_url="https://testserver", follow_redirects=False)
    sign_in(owner, email)
    csrf = page_csrf(owner)
    owner.post("/console/operations/webhooks", data={"csrf": csrf, "url": url})
    owner.post("/console/operations/policy",
               data={"csrf": csrf, "toxic_low": "0.123", "toxic_high": "0.456"})  # fmt: skip
    owner.post("/console/rules", data={"csrf": csrf, "source": RULES})
    owner.post("/console/rules", data={"csrf": csrf, "source": RULES.replace("10", "11")})
    with state.accounts.session() as db:
        hook = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant == tenant)).one()
    return Owner(tenant, email, token.id, name, invite.id, hook.id, url)


def _snapshot(api: TestClient, owner: Owner) -> dict[str, Any]:
    """Everything of the owner's that a route could change."""
    with state_of(api).accounts.session() as db:
        found = service.tenant_by_name(db, owner.tenant)
        policy = db.get(TenantPolicy, found.id)
        return {
            "token": db.get(ApiToken, owner.token_id).revoked_at,
            "tokens": len(db.scalars(select(ApiToken).where(ApiToken.tenant_id == found.id)).all()),
            "invites": [(i.id, i.active) for i in service.invites_of(db, found.id)],
            "hooks": [(h.id, h.active) for h in db.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.tenant == owner.tenant))],
            "policy": policy.document if policy else None,
            "rules": sorted(db.scalars(select(TenantRules.version).where(
                TenantRules.tenant_id == found.id)).all()),
            "audit": len(service.entries(db, owner.tenant, None, 1000)),
        }  # fmt: skip


FormOf = Callable[[Owner], dict[str, str]]
ATTEMPTS: dict[tuple[str, str], FormOf] = {
    ("GET", "/console/operations"): lambda o: {},
    ("GET", "/console/operations/webhooks"): lambda o: {},
    ("GET", "/console/operations/policy"): lambda o: {},
    ("GET", "/console/operations/tokens"): lambda o: {},
    ("GET", "/console/operations/invites"): lambda o: {},
    ("GET", "/console/operations/audit"): lambda o: {},
    ("GET", "/console/rules"): lambda o: {},
    ("POST", "/console/operations/deadletters/replay"): lambda o: {"id": "events.text:0:1"},
    ("POST", "/console/operations/webhooks"): lambda o: {"url": o.hook_url},
    ("POST", "/console/operations/webhooks/disable"): lambda o: {"hook": str(o.hook_id)},
    ("POST", "/console/operations/policy"): lambda o: {"toxic_low": "0.3", "toxic_high": "0.4"},
    ("POST", "/console/operations/policy/drop"): lambda o: {},
    ("POST", "/console/operations/tokens"): lambda o: {"name": o.token_name, "scopes": "read"},
    ("POST", "/console/operations/tokens/revoke"): lambda o: {"token": str(o.token_id)},
    ("POST", "/console/operations/invites"): lambda o: {"role": "admin"},
    ("POST", "/console/operations/invites/revoke"): lambda o: {"invite": str(o.invite_id)},
    ("POST", "/console/rules"): lambda o: {"source": RULES},
    ("POST", "/console/rules/validate"): lambda o: {"source": RULES},
    ("POST", "/console/rules/backtest"): lambda o: {"source": RULES},
    ("POST", "/console/rules/rollback"): lambda o: {"version": "1"},
}
"""Each operations and rules route, with the owner's identifiers where it takes any."""


def test_every_operations_and_rules_route_is_tried_by_an_intruder() -> None:
    mine = {
        r for r in console_routes() if r[1].startswith(("/console/operations", "/console/rules"))
    }
    assert mine == set(ATTEMPTS)


@pytest.mark.parametrize("route", sorted(ATTEMPTS), ids=lambda r: f"{r[0]} {r[1]}")
def test_another_tenants_admin_gets_nothing_and_changes_nothing(
    api: TestClient, browser: TestClient, published: RecordingPublisher, route: tuple[str, str]
) -> None:
    owner = _owner(api)
    before = _snapshot(api, owner)
    sent = len(published.published)
    admin_of(api, browser)
    method, path = route
    form = ATTEMPTS[route](owner)
    if method == "GET":
        response = browser.get(path)
    else:
        response = browser.post(path, data={"csrf": page_csrf(browser), **form})
    shown = response.text + (browser.get(response.headers["location"]).text
                             if response.status_code == 303 else "")  # fmt: skip
    for secret in (owner.email, owner.hook_url, owner.token_name, "0.123", owner.tenant):
        if secret not in json.dumps(form):  # what the intruder typed may be shown back
            assert secret not in shown, (secret, route)
    assert _snapshot(api, owner) == before
    assert not [t for t, _, v in published.published[sent:] if owner.tenant.encode() in v]
