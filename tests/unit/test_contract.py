"""The OpenAPI document states what the API really answers: the shared error answers with the
one error body, and a 405 whose `Allow` lists every method of the path."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from api import durations
from api.compat.perspective import AnalyzeCommentRequest
from api.replay import ReplayRequest
from schemas.moderate import ModerateRequest
from schemas.moderation import REASONS
from tests.support.accounts import as_tenant


@pytest.fixture(scope="module")
def document(api: TestClient) -> dict[str, Any]:
    return api.get("/openapi.json").json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/tokens", "GET, POST"),
        ("PATCH", "/v1/tenant/policy", "DELETE, GET, PUT"),
        ("DELETE", "/v1/posts", "GET, POST"),
        ("OPTIONS", "/v1/deadletters/replay", "POST"),
        # A literal path, not a value of the template beside it (`/v1/deadletters/{id}` has GET):
        # schemathesis got the template's 422 for the id's pattern.
        ("GET", "/v1/deadletters/replay", "POST"),
        ("DELETE", "/v1/media/banks", "GET"),
        ("PUT", "/v1/verdicts/some-event", "GET"),
    ],
)
def test_405_allows_every_method_of_the_path(
    api: TestClient, method: str, path: str, allow: str
) -> None:
    response = api.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json()["error"] == {
        "code": "method_not_allowed",
        "message": f"{method} is not allowed here; use {allow}",
        "details": None,
    }


def test_a_body_that_is_not_json_is_a_400_that_says_so(api: TestClient) -> None:
    response = api.put(
        "/v1/tenant/privacy", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_body"


# Routes that answer errors in the shape of the API they stand in for (docs/moderate.md).
FOREIGN_ERRORS = ("/v1alpha1/", "/v1/moderations", "/$discovery/")


def test_every_operation_documents_the_shared_errors(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in document["paths"].items():
        if path.startswith(FOREIGN_ERRORS):
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if not path.startswith(("/health", "/v1/auth/")):
                assert {"401", "403", "429", "503"} <= set(responses), where
            if "requestBody" in operation:
                assert {"400", "422"} <= set(responses), where
            if "{" in path:
                assert "404" in responses, where
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and path != "/health":
                    assert answer["content"]["application/json"]["schema"] == error, where
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_compatible_routes_document_their_own_error_shapes(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        if not path.startswith(FOREIGN_ERRORS[:2]):
            continue
        for method, operation in item.items():
            schema = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert "error" in schema["properties"], f"{method.upper()} {path}"


def test_the_activity_report_is_its_own_schema(document: dict[str, Any]) -> None:
    """Not the activity event's payload, whose name it once shared."""
    answer = document["paths"]["/v1/analytics/activity"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert list(document["components"]["schemas"][ref]["properties"]) == ["data"]


def _body_validator(document: dict[str, Any], path: str, method: str) -> Any:
    operation = document["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.validator_for({"components": document["components"], **schema})


def test_taxonomy_codes_and_webhook_events_are_enums(document: dict[str, Any]) -> None:
    """The API refuses a code outside the taxonomy; the schema says which (schemathesis sent
    `""` and was refused)."""
    report = _body_validator(document, "/v1/reports", "post")
    assert report.is_valid({"event_id": "e", "category": "spam", "reporter": "u"})
    assert not report.is_valid({"event_id": "e", "category": "", "reporter": "u"})
    decision = _body_validator(document, "/v1/review/items/{review_item}/decision", "post")
    assert decision.is_valid({"action": "remove", "reason": sorted(REASONS)[0]})
    assert not decision.is_valid({"action": "remove", "reason": ""})
    assert not decision.is_valid({"action": "label", "reason": "spam"})  # names its labels
    assert decision.is_valid({"action": "label", "reason": "spam", "labels": ["x"]})
    hook = _body_validator(document, "/v1/webhooks", "post")
    url = "https://app.example.com/hooks"
    assert hook.is_valid({"url": url, "events": ["notice"]})
    assert not hook.is_valid({"url": url, "events": [""]})
    assert not hook.is_valid({"url": url, "events": []})


def test_a_queue_position_is_an_integer_not_a_boolean(api: TestClient) -> None:
    headers = as_tenant(api, "queues")
    body = {"labels": ["identity_hate"], "position": False}
    refused = api.put("/v1/review/queues/default", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    zero = body | {"position": 0}
    assert api.put("/v1/review/queues/default", json=zero, headers=headers).is_success


def test_the_review_item_parameter_is_not_an_app_item_id(document: dict[str, Any]) -> None:
    """Named `review_item` (the field `POST /v1/reports` answers), so no client, nor link
    inference, takes an app's `item_id` for it."""
    for path in document["paths"]:
        if path.startswith("/v1/review/items/"):
            assert path.startswith("/v1/review/items/{review_item}"), path


@pytest.mark.parametrize(
    ("pattern", "given", "seconds"),
    [
        (durations.POSITIVE, "2s", 2.0),
        (durations.POSITIVE, "800ms", 0.8),
        (durations.POSITIVE, "10", 10.0),
        (durations.POSITIVE, "0.001s", 0.001),
        (durations.POSITIVE, "0", None),
        (durations.POSITIVE, "0.000ms", None),
        (durations.POSITIVE, "00000000000", None),  # schemathesis sent this (was a 422)
        (durations.POSITIVE, "10.001s", None),
        (durations.NON_NEGATIVE, "0", 0.0),
        (durations.NON_NEGATIVE, "10000ms", 10.0),
        (durations.NON_NEGATIVE, "10001ms", None),
        (durations.NON_NEGATIVE, "", None),
    ],
)
def test_a_duration_is_accepted_exactly_when_its_pattern_matches(
    pattern: str, given: str, seconds: float | None
) -> None:
    assert durations.seconds(given, pattern) == seconds
    assert (re.match(pattern, given) is not None) is (seconds is not None)


def test_the_perspective_key_is_a_credential_not_a_parameter(
    api: TestClient, document: dict[str, Any]
) -> None:
    """Documented as an API key in the query (a client sends its own; schemathesis made one up
    as a parameter and got Perspective's 400), and refused in Google's shape without one."""
    operation = document["paths"]["/v1alpha1/comments:analyze"]["post"]
    assert operation["security"] == [{"PerspectiveKey": []}]
    assert "key" not in [p["name"] for p in operation.get("parameters", [])]
    scheme = document["components"]["securitySchemes"]["PerspectiveKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "key")
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    missing = api.post("/v1alpha1/comments:analyze", json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/v1/moderate", "post", {"text": "hi", "store": 0}),  # schemathesis: 0 was taken as false
        ("/v1/deadletters/replay", "post", {"ids": ["events.text:0:1"], "dry_run": 1}),
        ("/v1alpha1/comments:analyze", "post", {"comment": {"text": "hi"},
                                                "requestedAttributes": {"TOXICITY": {}},
                                                "doNotStore": 0}),
    ],
)  # fmt: skip
def test_a_boolean_is_a_boolean(
    document: dict[str, Any], path: str, method: str, body: dict[str, Any]
) -> None:
    assert not _body_validator(document, path, method).is_valid(body)
    models: dict[str, type[BaseModel]] = {
        "/v1/moderate": ModerateRequest,
        "/v1/deadletters/replay": ReplayRequest,
        "/v1alpha1/comments:analyze": AnalyzeCommentRequest,
    }
    with pytest.raises(ValidationError):
        models[path].model_validate(body)


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://app.example.com/hooks/modstream", True),
        ("HTTP://app.example.com:8080", True),
        ("0" * 40, False),  # schemathesis sent a run of zeros: valid then, refused by the API
        ("ftp://files.example.com/x", False),
        ("http://:80/", False),
        ("http://host:/x", False),
    ],
)
def test_a_webhook_url_is_what_its_pattern_says(
    api: TestClient, document: dict[str, Any], url: str, valid: bool
) -> None:
    body = {"url": url, "events": ["notice"]}
    assert _body_validator(document, "/v1/webhooks", "post").is_valid(body) is valid
    created = api.post("/v1/webhooks", json=body, headers=as_tenant(api, "hooks"))
    assert created.status_code == (201 if valid else 422), created.text


def test_a_dead_letter_id_is_what_its_pattern_says(document: dict[str, Any]) -> None:
    replay = _body_validator(document, "/v1/deadletters/replay", "post")
    for good in ("events.text:2:1534", f"t:{'9' * 9}:{'9' * 18}"):
        assert replay.is_valid({"ids": [good]}), good
        ReplayRequest.model_validate({"ids": [good]})
    for bad in ("not-an-id", "events.text:0:99999999999999999999", f"t:{'9' * 10}:1"):
        assert not replay.is_valid({"ids": [bad]}), bad
        with pytest.raises(ValidationError):
            ReplayRequest.model_validate({"ids": [bad]})
