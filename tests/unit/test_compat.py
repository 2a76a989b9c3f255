"""The compatible APIs' mappings without a server: Perspective's attributes, languages and
errors, OpenAI's categories and flag, and the event a synchronous request becomes. Through the
API: tests/integration/test_compat_*.py and test_moderate.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from api.compat import MISSING_KEY
from api.compat import openai_moderations as oa
from api.compat import perspective as pa
from api.moderation import event_for
from infra.errors import Forbidden, InvalidToken, RateLimited, Unauthenticated
from schemas.events import Kind
from schemas.moderate import ModerateAnswer, ModerateRequest
from schemas.records import Decision, Verdict

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def verdict(scores: dict[str, float], decision: Decision = Decision.APPROVE) -> Verdict:
    return Verdict(
        event_id="e-1", tenant="demo", source="openai", kind=Kind.POST, item_id="e-1",
        author="anonymous", occurred_at=NOW, judged_at=NOW, decision=decision,
        toxic=scores.get("toxic", 0.0), scores=scores, lang="en", model_version="m",
        policy_version="p", latency_ms=1.0,
    )  # fmt: skip


def analyze(**fields: object) -> pa.AnalyzeCommentRequest:
    body = {"comment": {"text": "hello there"}, "requestedAttributes": {"TOXICITY": {}}}
    return pa.AnalyzeCommentRequest.model_validate(body | fields)


def test_perspective_languages_by_primary_subtag() -> None:
    assert pa.check_request(analyze()) is None  # detect
    assert pa.check_request(analyze(languages=["en-US"])) == "en"
    assert pa.check_request(analyze(languages=["fr", "ar"])) == "ar"
    with pytest.raises(pa.PerspectiveError) as refused:
        pa.check_request(analyze(languages=["fr"]))
    body = refused.value.body()["error"]
    assert body["status"] == "INVALID_ARGUMENT"
    assert body["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"


def test_perspective_unknown_attributes_are_refused() -> None:
    with pytest.raises(pa.PerspectiveError) as refused:
        pa.check_request(analyze(requestedAttributes={"TOXICITY": {}, "FLIRTATION": {}}))
    assert refused.value.code == 400
    assert "FLIRTATION" in refused.value.message


def test_perspective_answer_and_threshold() -> None:
    request = analyze(
        requestedAttributes={"TOXICITY": {}, "INSULT": {"scoreThreshold": 0.5}}, clientToken="t"
    )
    answer = ModerateAnswer(verdict=verdict({"toxic": 0.3, "insult": 0.2}), replayed=False)
    out = pa.response(request, answer).model_dump(exclude_none=True)
    assert out == {
        "attributeScores": {
            "TOXICITY": {
                "summaryScore": {"value": 0.3, "type": "PROBABILITY"},
                "spanScores": [
                    {"begin": 0, "end": 11, "score": {"value": 0.3, "type": "PROBABILITY"}}
                ],
            }
        },
        "languages": ["en"],
        "detectedLanguages": ["en"],
        "clientToken": "t",
    }


def test_openai_categories_from_labels() -> None:
    scores = oa.category_scores(verdict({"insult": 0.7, "identity_hate": 0.6, "threat": 1.0}))
    assert list(scores) == list(oa.CATEGORIES)
    assert scores["harassment"] == 0.7
    assert scores["hate/threatening"] == 0.6
    assert scores["violence"] == 1.0
    assert scores["sexual"] == 0.0


def test_openai_flag_follows_categories_or_a_rejection() -> None:
    assert oa.result(verdict({"toxic": 0.1}))["flagged"] is False
    profane = oa.result(verdict({"toxic": 0.95, "obscene": 0.9}, Decision.REJECT))
    assert profane["flagged"] is True
    assert not any(profane["categories"].values())


def test_openai_inputs() -> None:
    assert oa.ModerationRequest(input="a").texts() == ["a"]
    assert oa.ModerationRequest.model_validate(
        {"input": [{"type": "text", "text": "b"}]}
    ).texts() == ["b"]
    image = {"input": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}
    with pytest.raises(oa.OpenAIError) as refused:
        oa.precheck(json.dumps(image).encode())
    assert refused.value.code == "unsupported_input_type"


@pytest.mark.parametrize(
    "body",
    [
        {"input": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
        {"input": [{}]},
        {"input": []},
        {"input": ["a"] * (oa.MAX_INPUTS + 1)},
        {"input": ["a", {"type": "text", "text": "b"}]},
    ],
)
def test_openai_inputs_the_schema_refuses_are_refused(body: dict[str, Any]) -> None:
    """Text only, one to 32 inputs: the documented schema and the API agree (schemathesis sent
    `[{}]`, valid under the schema when it let any object through, and got a 400)."""
    schema = oa.ModerationRequest.model_json_schema()
    assert not jsonschema_rs.validator_for(schema).is_valid(body)

    def served(raw: bytes) -> None:
        oa.precheck(raw)
        oa.ModerationRequest.model_validate_json(raw)

    with pytest.raises((oa.OpenAIError, ValidationError)):
        served(json.dumps(body).encode())


def test_an_id_makes_the_event_id_stable() -> None:
    body = ModerateRequest(text="hi", id="c-1")
    assert event_for("demo", body).event_id == event_for("demo", body).event_id
    assert event_for("demo", body).event_id != event_for("other", body).event_id
    fresh = ModerateRequest(text="hi")
    assert event_for("demo", fresh).event_id != event_for("demo", fresh).event_id


def test_the_hash_only_header_keeps_the_text_out_of_the_warehouse() -> None:
    from aiokafka import ConsumerRecord

    from infra.warehouse.sink import EVENTS, rows_for
    from schemas.topics import EVENTS_JUDGED, HASH_ONLY, HASH_ONLY_HEADER
    from tests.support.events import as_json, post_event

    def record(
        value: bytes, headers: tuple[tuple[str, bytes], ...]
    ) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(
            topic=EVENTS_JUDGED.name, partition=0, offset=0, timestamp=1_700_000_000_000,
            timestamp_type=0, key=b"k", value=value, checksum=None, serialized_key_size=1,
            serialized_value_size=len(value), headers=headers,
        )  # fmt: skip

    value = as_json(post_event("e1", "hello there"))
    kept = rows_for([record(value, ())])[EVENTS][0]
    hashed = rows_for([record(value, ((HASH_ONLY_HEADER, HASH_ONLY),))])[EVENTS][0]
    text, digest = EVENTS.columns.index("text"), EVENTS.columns.index("content_sha256")
    assert kept[text] == "hello there"
    assert hashed[text] == ""
    assert hashed[digest] == kept[digest] != ""


KEY_REFUSALS = [
    Unauthenticated(MISSING_KEY, "the request carries no API key"),
    InvalidToken("invalid_token", "unknown token"),
    RateLimited("quota_exceeded", "slow down", 30),
    Forbidden("insufficient_scope", "The API key needs the 'ingest' scope."),
]


def test_a_refused_key_in_perspective_shape() -> None:
    answers = [pa.refused(exc) for exc in KEY_REFUSALS]
    assert [(e.code, e.body()["error"]["status"]) for e in answers] == [
        (403, "PERMISSION_DENIED"), (400, "INVALID_ARGUMENT"), (429, "RESOURCE_EXHAUSTED"),
        (403, "PERMISSION_DENIED"),
    ]  # fmt: skip
    assert answers[1].message == "API key not valid. Please pass a valid API key."


def test_a_refused_key_in_openai_shape() -> None:
    answers = [oa.refused(exc) for exc in KEY_REFUSALS]
    assert [(e.status, e.kind, e.code) for e in answers] == [
        (401, "invalid_request_error", None), (401, "invalid_request_error", "invalid_api_key"),
        (429, "requests", "rate_limit_exceeded"),
        (403, "invalid_request_error", "insufficient_scope"),
    ]  # fmt: skip
