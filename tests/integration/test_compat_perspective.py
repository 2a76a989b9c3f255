"""`POST /v1alpha1/comments:analyze`, Perspective's API, through the API with the assist service
judging: request/response pairs transcribed from Perspective's public documentation (their
shapes exactly; the scores are this project's models'), its errors in Google's shape, and
Google's own Python client built the way Perspective's sample builds it, with only the discovery
URL changed, against a running API."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.warehouse import Warehouse
from tests.support.accounts import as_tenant, make_token
from tests.support.polling import wait_for
from tests.support.stack import Worker

PATH = "/v1alpha1/comments:analyze"


@pytest.fixture(scope="module")
def key(api: TestClient, assist_service: Worker) -> str:
    return make_token(api, "perspective-demo", ("ingest",))[1]


def _analyze(api: TestClient, key: str, body: dict[str, Any]) -> Any:
    return api.post(f"{PATH}?key={key}", json=body, headers={"Authorization": ""})


def _probability(score: dict[str, Any]) -> float:
    assert set(score) == {"value", "type"}
    assert score["type"] == "PROBABILITY"
    assert 0.0 <= score["value"] <= 1.0
    return float(score["value"])


def test_the_documented_request(api: TestClient, key: str) -> None:
    # Perspective's docs ("Methods", AnalyzeComment): the request, and the response's shape:
    # {"attributeScores": {"TOXICITY": {"spanScores": [{"begin": 0, "end": …, "score":
    #  {"value": 0.9208521, "type": "PROBABILITY"}}], "summaryScore": {"value": 0.9208521,
    #  "type": "PROBABILITY"}}}, "languages": ["en"], "detectedLanguages": ["en"]}
    text = "What kind of idiot name is foo?"
    request = {
        "comment": {"text": text},
        "languages": ["en"],
        "requestedAttributes": {"TOXICITY": {}},
    }
    response = _analyze(api, key, request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"attributeScores", "languages", "detectedLanguages"}
    assert body["languages"] == ["en"]
    assert body["detectedLanguages"] == ["en"]
    toxicity = body["attributeScores"]["TOXICITY"]
    assert set(body["attributeScores"]) == {"TOXICITY"}
    assert set(toxicity) == {"summaryScore", "spanScores"}
    summary = _probability(toxicity["summaryScore"])
    [span] = toxicity["spanScores"]
    assert (span["begin"], span["end"]) == (0, len(text))
    assert _probability(span["score"]) == summary


def test_every_attribute_the_client_token_and_detection(api: TestClient, key: str) -> None:
    # The docs' full request: every production attribute, no languages (detected), a client
    # token echoed back.
    attributes = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY",
                  "THREAT")  # fmt: skip
    request = {
        "comment": {"text": "shut up, you are an idiot"},
        "requestedAttributes": {a: {} for a in attributes},
        "clientToken": "req-42",
        "sessionId": "s-1",
        "communityId": "forum",
    }  # fmt: skip
    body = _analyze(api, key, request).json()
    assert set(body) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert body["clientToken"] == "req-42"
    assert body["detectedLanguages"] == ["en"]
    assert body["languages"] == ["en"]
    assert set(body["attributeScores"]) == set(attributes)
    assert _probability(body["attributeScores"]["TOXICITY"]["summaryScore"]) > 0.5


def test_span_annotations_and_thresholds(api: TestClient, key: str) -> None:
    text = "Thanks for the photos. You are an idiot!"
    request = {
        "comment": {"text": text, "type": "PLAIN_TEXT"},
        "requestedAttributes": {"TOXICITY": {}, "THREAT": {"scoreThreshold": 0.9}},
        "spanAnnotations": True,
    }
    body = _analyze(api, key, request).json()
    assert set(body["attributeScores"]) == {"TOXICITY"}  # THREAT scored below its threshold
    calm, rude = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert (calm["begin"], calm["end"], rude["begin"], rude["end"]) == (0, 22, 23, 40)
    assert _probability(rude["score"]) > _probability(calm["score"])


def test_do_not_store_keeps_only_the_hash(api: TestClient, key: str, warehouse: Warehouse) -> None:
    text = f"lovely harbour photos {uuid.uuid4().hex[:6]}"
    request = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}},
               "doNotStore": True}  # fmt: skip
    assert _analyze(api, key, request).status_code == 200
    digest = hashlib.sha256(text.encode()).hexdigest()

    def stored() -> list[dict[str, Any]]:
        return warehouse.rows(
            "SELECT text, source FROM events FINAL WHERE content_sha256 = {d:String}", {"d": digest}
        )

    assert wait_for(stored, what="the event") == [{"text": "", "source": "perspective"}]


def _error(response: Any, code: int, status: str) -> dict[str, Any]:
    assert response.status_code == code
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return dict(body["error"])


def test_unsupported_attributes_and_languages(api: TestClient, key: str) -> None:
    comment = {"text": "bonjour à tous"}
    spam = _analyze(api, key, {"comment": comment, "requestedAttributes": {"SPAM": {}}})
    assert _error(spam, 400, "INVALID_ARGUMENT")["details"][0]["errorType"] == (
        "INVALID_REQUESTED_ATTRIBUTE"
    )
    french = _analyze(
        api, key,
        {"comment": comment, "languages": ["fr"], "requestedAttributes": {"TOXICITY": {}}},
    )  # fmt: skip
    error = _error(french, 400, "INVALID_ARGUMENT")
    assert error["message"] == "Attribute TOXICITY does not support request languages: fr"
    [detail] = error["details"]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"]["attribute"] == "TOXICITY"
    arabic = _analyze(
        api, key,
        {"comment": {"text": "انت غبي"}, "languages": ["ar"],
         "requestedAttributes": {"SEVERE_TOXICITY": {}}},
    )  # fmt: skip
    assert _error(arabic, 400, "INVALID_ARGUMENT")["details"][0][
        "languageNotSupportedByAttributeError"
    ] == {"detectedLanguages": ["ar"], "attribute": "SEVERE_TOXICITY"}


def test_keys_and_bad_requests(api: TestClient, key: str) -> None:
    good = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
    missing = api.post(PATH, json=good, headers={"Authorization": ""})
    assert _error(missing, 403, "PERMISSION_DENIED")["message"] == (
        "The request is missing a valid API key."
    )
    wrong = _analyze(api, "mod_not-a-key", good)
    assert _error(wrong, 400, "INVALID_ARGUMENT")["message"] == (
        "API key not valid. Please pass a valid API key."
    )
    reader = as_tenant(api, "perspective-reader", ("read",))["Authorization"].split()[-1]
    _error(_analyze(api, reader, good), 403, "PERMISSION_DENIED")
    _error(_analyze(api, key, {"comment": {"text": "hi"}}), 400, "INVALID_ARGUMENT")
    html = {
        "comment": {"text": "<b>hi</b>", "type": "HTML"},
        "requestedAttributes": {"TOXICITY": {}},
    }
    _error(_analyze(api, key, html), 400, "INVALID_ARGUMENT")
    empty = {"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}
    _error(_analyze(api, key, empty), 400, "INVALID_ARGUMENT")


def test_googles_client_from_the_discovery_url(served_api: str, key: str) -> None:
    # Perspective's Python sample, with only the discovery URL changed to this API.
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    client = discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=key,
        discoveryServiceUrl=f"{served_api}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
        cache_discovery=False,
    )
    analyze_request = {
        "comment": {"text": "friendly greetings from python"},
        "requestedAttributes": {"TOXICITY": {}},
    }
    response = client.comments().analyze(body=analyze_request).execute()
    assert set(response) == {"attributeScores", "languages", "detectedLanguages"}
    assert _probability(response["attributeScores"]["TOXICITY"]["summaryScore"]) < 0.5
    with pytest.raises(HttpError) as refused:
        client.comments().analyze(
            body={"comment": {"text": "hi"}, "requestedAttributes": {"SPAM": {}}}
        ).execute()
    assert refused.value.resp.status == 400
    client.close()
