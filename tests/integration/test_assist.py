"""Composer assist: the judging (no HTTP), the assist service as a real subprocess (loopback,
shared secret), and `POST /v1/assist` through the API (scopes, the tenant's own policy, 503 when
the service is gone). Drafts refused before the service is asked: tests/unit/test_assist.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.routes.assist import AssistClient
from infra.settings import Settings
from schemas.assist import SECRET_HEADER, AssistQuery
from schemas.records import Decision
from streams.assist import ADVICE_CONTEXT, ADVICE_REWRITE, Assistant
from streams.policy import DecisionPolicy, PolicyBook
from streams.text.context import ContextJudge
from streams.text.linear import LinearTextClassifier
from streams.text.longtext import LongTextClassifier
from streams.text.rewrite import ChatEndpoint, ChatRewriter, OfflineRewriter
from tests.support.accounts import as_tenant
from tests.support.fake_llm import Behaviour, FakeChat, fake_chat
from tests.support.polling import wait_for
from tests.support.settings import ASSIST_SECRET
from tests.support.stack import Worker

INSULT = "shut up, you are an idiot"
KIND = "What a lovely photo of the harbour, thanks for sharing"


@pytest.fixture(scope="module")
def chat() -> Iterator[FakeChat]:
    with fake_chat() as server:
        server.behaviour = Behaviour(reply=lambda body: "I see this differently.")
        yield server


@pytest.fixture(scope="module")
def assistant(model_dir: Path, chat: FakeChat) -> Iterator[Assistant]:
    classifier = LongTextClassifier(LinearTextClassifier.load(model_dir))
    offline = OfflineRewriter(classifier)
    book = PolicyBook(tenants={"strict": DecisionPolicy(low=0.0, high=0.0)})
    helper = Assistant(
        classifier, book, ContextJudge(classifier), offline,
        ChatRewriter(classifier, ChatEndpoint(chat.url, SecretStr("k" * 40)), offline),
    )  # fmt: skip
    yield helper
    helper.close()


def query(text: str, **kw: Any) -> AssistQuery:
    return AssistQuery(tenant=kw.pop("tenant", "demo"), text=text, **kw)


def test_a_kind_draft_is_approved(assistant: Assistant) -> None:
    out = assistant.answer(query(KIND))
    assert out.decision is Decision.APPROVE
    assert out.rewrite is None
    assert out.advice is None
    assert out.context is None
    assert out.elapsed_ms > 0


def test_a_toxic_draft_gets_spans_and_a_rewrite(assistant: Assistant) -> None:
    out = assistant.answer(query(INSULT))
    assert out.decision is not Decision.APPROVE
    assert any("idiot" in INSULT[a:b] for a, b in out.spans)
    assert out.rewrite is not None
    assert out.rewrite.source == "offline"
    assert out.rewrite.text in ("shut up, you are wrong", "please stop, you are wrong")  # spans
    assert out.advice == ADVICE_REWRITE
    assert assistant.answer(query(INSULT, rewrite="off")).rewrite is None


def test_best_asks_the_chat_endpoint(assistant: Assistant, chat: FakeChat) -> None:
    out = assistant.answer(query(INSULT, rewrite="best"))
    assert out.rewrite is not None
    assert out.rewrite.source == "llm"
    assert out.rewrite.text == "I see this differently."
    assert chat.seen[-1].body["messages"][-1]["content"].endswith(INSULT)


def test_context_advice(assistant: Assistant) -> None:
    out = assistant.answer(query("same to you", context=["you are a stupid worthless idiot"]))
    assert out.context is not None
    assert out.context.raised
    assert out.decision is not Decision.APPROVE
    assert out.advice == ADVICE_CONTEXT
    calm = assistant.answer(query("same to you", context=[KIND]))
    assert calm.context is not None
    assert not calm.context.raised


def test_the_tenant_policy_decides(assistant: Assistant) -> None:
    assert assistant.answer(query(KIND, tenant="strict")).decision is Decision.REJECT
    assert assistant.answer(query(KIND, tenant="other")).decision is Decision.APPROVE


def test_the_service_wants_the_secret(settings: Settings, assist_service: Worker) -> None:
    url = f"http://127.0.0.1:{settings.assist.port}/assist"
    body = {"tenant": "demo", "text": INSULT}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={SECRET_HEADER: "wrong"}).status_code == 401
    ok = httpx.post(url, json=body, headers={SECRET_HEADER: ASSIST_SECRET})
    assert ok.status_code == 200
    assert ok.json()["decision"] != "approve"


def test_through_the_api(api: TestClient, assist_service: Worker) -> None:
    response = api.post("/v1/assist", json={"text": INSULT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] != "approve"
    assert body["rewrite"]["text"].endswith(", you are wrong")
    assert body["spans"]
    kind = api.post("/v1/assist", json={"text": KIND, "context": [KIND]}).json()
    assert kind["decision"] == "approve"
    assert kind["context"]["items"] == 1


def test_scopes(api: TestClient, assist_service: Worker) -> None:
    for scopes, status in ((("read",), 200), (("ingest",), 200), (("moderate",), 403)):
        headers = as_tenant(api, "assist-scopes", scopes)
        assert api.post("/v1/assist", json={"text": KIND}, headers=headers).status_code == status
    assert (
        api.post("/v1/assist", json={"text": KIND}, headers={"Authorization": ""}).status_code
        == 401
    )


def test_the_callers_own_policy_applies(api: TestClient, assist_service: Worker) -> None:
    headers = as_tenant(api, "assist-strict")
    assert api.post("/v1/assist", json={"text": KIND}, headers=headers).json()["decision"] == (
        "approve"
    )
    strict = {"toxic": {"low": 0.0, "high": 0.0}}
    assert api.put("/v1/tenant/policy", json=strict, headers=headers).status_code == 200
    try:
        wait_for(
            lambda: (
                api.post("/v1/assist", json={"text": KIND}, headers=headers).json()["decision"]
                == "reject"
            ),
            timeout=30,
            what="the assist service to read the tenant's new policy",
        )
        other = api.post("/v1/assist", json={"text": KIND}).json()  # tenant demo: unchanged
        assert other["decision"] == "approve"
    finally:
        api.delete("/v1/tenant/policy", headers=headers)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port": 1}, "not running"),  # nothing listens there
        ({"secret": SecretStr("not-the-shared-secret")}, "misconfigured"),
    ],
)
async def test_503_when_the_service_cannot_answer(
    api: TestClient, settings: Settings, assist_service: Worker, change: dict[str, Any],
    message: str,
) -> None:  # fmt: skip
    app: Any = api.app
    real = app.state.assist
    broken = AssistClient(settings.assist.model_copy(update=change))
    app.state.assist = broken
    try:
        response = api.post("/v1/assist", json={"text": KIND})
    finally:
        app.state.assist = real
    await broken.aclose()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "assist_unavailable"
    assert message in error["message"]


def test_a_composer_session_reaches_the_activity_analytics(api: TestClient) -> None:
    """A session as a composer emits it (docs/assist.md, "Composer activity"), through
    `POST /v1/events`, the broker and the sink, read back by `GET /v1/analytics/activity`."""
    from datetime import UTC, datetime, timedelta

    from schemas.activity import ComposerAction as A
    from schemas.activity import ModerationMode

    headers = as_tenant(api, "composer-e2e")
    start = datetime.now(UTC).replace(microsecond=0)
    steps = [
        A.COMPOSER_OPENED, A.SCORE_UPDATED, A.SPANS_SHOWN, A.WARNING_SHOWN, A.SUBMIT_BLOCKED,
        A.REWRITE_SUGGESTED, A.REWRITE_ACCEPTED, A.POST_PUBLISHED, A.COMPOSER_CLOSED,
    ]  # fmt: skip
    events = [
        {
            "event_id": f"composer-e2e-{n}", "tenant": "composer-e2e", "source": "composer",
            "kind": "activity", "occurred_at": (start + timedelta(seconds=n)).isoformat(),
            "payload": {"user": "u1", "session_id": "s-1", "action": step.value,
                        "mode": ModerationMode.SAFE.value,
                        "metadata": {"event_id": "composer-e2e-post"} if step is A.POST_PUBLISHED
                        else {}},
        }
        for n, step in enumerate(steps)
    ]  # fmt: skip
    assert api.post("/v1/events", json=events, headers=headers).status_code == 202
    since = (start - timedelta(hours=1)).replace(minute=0, second=0)
    params = {"since": since.isoformat(), "until": (since + timedelta(hours=3)).isoformat()}

    def safe_mode() -> Any:
        data = api.get("/v1/analytics/activity", params=params, headers=headers).json()["data"]
        found = [m for m in data if m["mode"] == "safe" and m["events"] == len(steps)]
        return found[0] if found else None

    mode = wait_for(safe_mode, timeout=30, what="the composer session in the analytics")
    assert (mode["sessions"], mode["users"], mode["blocked"], mode["published"]) == (1, 1, 1, 1)
    assert mode["warnings"]["shown"] == 1
    assert mode["rewrites"] == {"shown": 1, "yes": 1, "no": 0, "rate": 1.0}
    assert mode["avg_session_seconds"] == len(steps) - 1
