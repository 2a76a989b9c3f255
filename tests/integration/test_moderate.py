"""`POST /v1/moderate` through the API, with the assist service judging (a real subprocess with
the cascade), the real broker, and the warehouse the sink fills: the exact answer, what is
published and stored (text, or only its hash), replays, request thresholds, the deadline and the
refusals. The judge without HTTP: an item a worker judged first is not judged again."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.errors import Conflict
from infra.warehouse import Warehouse
from schemas.events import Post, PostEvent
from schemas.moderate import ModerateQuery
from schemas.records import Verdict
from schemas.topics import EVENTS_TEXT
from streams.moderate import REQUEST_POLICY, Moderator, sentences
from streams.pipeline import RawRecord, TextPipeline
from streams.policy import PolicyBook
from streams.text.linear import LinearTextClassifier
from tests.support.accounts import anonymous, as_tenant
from tests.support.polling import wait_for
from tests.support.stack import Worker

INSULT = "shut up, you are an idiot"
KIND = "What a lovely photo of the harbour, thanks for sharing"
VERDICT_KEYS = set(Verdict.model_fields)
EXTRA_KEYS = {"policy", "stored", "replayed"}


@pytest.fixture(scope="module")
def judged(api: TestClient, assist_service: Worker) -> TestClient:
    return api


def _stored(warehouse: Warehouse, event_id: str) -> tuple[str, str] | None:
    rows = warehouse.rows(
        "SELECT text, content_sha256 FROM events FINAL WHERE event_id = {id:String}",
        {"id": event_id},
    )
    return (rows[0]["text"], rows[0]["content_sha256"]) if rows else None


def _verdict_stored(api: TestClient, event_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v1/verdicts/{event_id}")
    return response.json() if response.status_code == 200 else None


def test_the_answer_is_the_full_verdict_published_and_stored(
    judged: TestClient, warehouse: Warehouse
) -> None:
    item = f"c-{uuid.uuid4().hex[:8]}"
    response = judged.post(
        "/v1/moderate",
        json={"text": INSULT, "author": "user-42", "id": item, "lang": "en",
              "context": ["I think the referee got that call right."]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == VERDICT_KEYS | EXTRA_KEYS
    assert body["tenant"] == "demo"
    assert body["source"] == "moderate"
    assert body["kind"] == "post"
    assert body["item_id"] == item
    assert body["author"] == "user-42"
    assert body["decision"] in ("review", "reject")
    assert body["toxic"] > 0.5
    assert set(body["scores"]) >= {"toxic", "insult", "identity_hate", "threat"}
    assert body["spans"]
    assert all(0 <= a < b <= len(INSULT) for a, b in body["spans"])
    assert body["rewrite"] is not None
    assert body["rewrite"]["source"] == "offline"
    assert body["context"]["items"] == 1
    assert body["model_version"].startswith("cascade")  # the worker's cascade, not the fast tier
    assert body["policy"] == "tenant"
    assert not body["policy_version"].startswith(REQUEST_POLICY)
    assert body["stored"] == "text"
    assert body["replayed"] is False
    # Published: the sink stored the event (from events.judged) and the verdict (verdicts.text).
    stored = wait_for(lambda: _verdict_stored(judged, body["event_id"]), what="the verdict")
    assert stored["decision"] == body["decision"]
    assert stored["toxic"] == pytest.approx(body["toxic"], abs=1e-6)  # stored as Float32
    text = wait_for(lambda: _stored(warehouse, body["event_id"]), what="the event")
    assert text == (INSULT, hashlib.sha256(INSULT.encode()).hexdigest())


def test_the_same_id_is_judged_once(judged: TestClient) -> None:
    item = {"text": KIND, "id": f"c-{uuid.uuid4().hex[:8]}"}
    first = judged.post("/v1/moderate", json=item).json()
    again = judged.post("/v1/moderate", json=item).json()
    assert again["replayed"] is True
    assert first["replayed"] is False
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }  # the first verdict itself: same event, same judged_at
    other = judged.post("/v1/moderate", json={"text": KIND}).json()
    assert other["event_id"] != first["event_id"]
    assert other["replayed"] is False


def test_request_thresholds_override_the_policy_and_say_so(judged: TestClient) -> None:
    strict = {"toxic": {"low": 0.0, "high": 0.0}}
    body = judged.post("/v1/moderate", json={"text": KIND, "thresholds": strict}).json()
    assert body["decision"] == "reject"  # any score above 0 is rejected under these bands
    assert body["policy"] == "request"
    assert body["policy_version"].startswith(REQUEST_POLICY + "threshold-v1:")
    tenant = judged.post("/v1/moderate", json={"text": KIND}).json()
    assert tenant["decision"] == "approve"
    assert tenant["policy"] == "tenant"
    stored = wait_for(lambda: _verdict_stored(judged, body["event_id"]), what="the verdict")
    assert stored["policy_version"] == body["policy_version"]


def test_store_false_keeps_only_the_hash(judged: TestClient, warehouse: Warehouse) -> None:
    text = f"{KIND} {uuid.uuid4().hex[:6]}"
    body = judged.post("/v1/moderate", json={"text": text, "store": False}).json()
    assert body["stored"] == "hash"
    stored = wait_for(lambda: _stored(warehouse, body["event_id"]), what="the event")
    assert stored == ("", hashlib.sha256(text.encode()).hexdigest())


def test_past_the_deadline_504(judged: TestClient) -> None:
    response = judged.post("/v1/moderate?deadline=1ms", json={"text": KIND})
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "deadline_exceeded"
    assert "0.001 s" in error["message"]
    assert "same `id`" in error["message"]


@pytest.mark.parametrize(
    ("query", "body", "status", "code"),
    [
        ("?deadline=11s", {"text": KIND}, 422, "invalid_deadline"),
        ("?deadline=soon", {"text": KIND}, 422, "invalid_deadline"),
        ("", {"text": ""}, 422, "invalid_request"),
        ("", {"text": KIND, "thresholds": {"toxic": {"low": 0.9, "high": 0.1}}}, 422,
         "invalid_request"),
        ("", {"text": KIND, "colour": "red"}, 422, "invalid_request"),
    ],
)  # fmt: skip
def test_refusals(
    judged: TestClient, query: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = judged.post(f"/v1/moderate{query}", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_credentials_and_scope(judged: TestClient) -> None:
    none = judged.post("/v1/moderate", json={"text": KIND}, headers=anonymous())
    assert none.status_code == 401
    reader = as_tenant(judged, "moderate-reader", ("read",))
    refused = judged.post("/v1/moderate", json={"text": KIND}, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"


# -- the judge, without HTTP --------------------------------------------------------------------


@pytest.fixture(scope="module")
def moderator(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moderator]:
    from streams.dedupe import DedupeStore

    store = DedupeStore(tmp_path_factory.mktemp("moderator") / "dedupe.sqlite3")
    pipeline = TextPipeline(LinearTextClassifier.load(model_dir), PolicyBook(), store=store)
    yield Moderator(pipeline, store=store)
    store.close()


def _event(event_id: str, item: str, text: str = INSULT) -> PostEvent:
    return PostEvent(
        event_id=event_id, tenant="demo", source="comments", occurred_at=datetime.now(UTC),
        payload=Post(external_id=item, author="user-1", text=text),
    )  # fmt: skip


def test_an_item_a_worker_judged_is_not_judged_again(moderator: Moderator) -> None:
    event = _event("worker-1", "item-1")
    worker = moderator.pipeline.process(
        [RawRecord(EVENTS_TEXT.name, 0, 0, None, event.model_dump_json().encode())]
    )
    assert len(worker.verdicts) == 1  # as a stream worker sharing the dedupe store would
    with pytest.raises(Conflict) as refused:
        moderator.judge(ModerateQuery(event=_event("moderate-1", "item-1")))
    assert refused.value.code == "already_judged"


def test_span_annotations_score_each_sentence(moderator: Moderator) -> None:
    text = "Thanks for the photos. You are an idiot!"
    assert sentences(text) == [(0, 22), (23, 40)]
    answer = moderator.judge(ModerateQuery(event=_event("m-2", "item-2", text), sentences=True))
    calm, rude = answer.sentences
    assert (calm.begin, calm.end, rude.begin, rude.end) == (0, 22, 23, 40)
    assert rude.toxic > calm.toxic
