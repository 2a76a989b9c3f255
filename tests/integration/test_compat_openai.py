"""`POST /v1/moderations`, OpenAI's moderation API: the official `openai` client pointed at a
running API (only `base_url` and the key change), the exact response shape, the category
mapping, and errors in OpenAI's shape; with the assist service judging and the real broker."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from openai.types import ModerationImageURLInputParam

from api.compat.openai_moderations import CATEGORIES
from tests.support.accounts import as_tenant, make_token
from tests.support.stack import Worker

INSULT = "nobody likes you, go hang yourself"  # the harassment rule: 1.0 whatever the model
KIND = "What a lovely photo of the harbour, thanks for sharing"
UNSCORED = {"illicit", "illicit/violent", "self-harm", "self-harm/instructions",
            "self-harm/intent", "sexual", "sexual/minors", "violence/graphic"}  # fmt: skip


@pytest.fixture(scope="module")
def key(api: TestClient, assist_service: Worker) -> str:
    return make_token(api, "openai-demo", ("ingest",))[1]


@pytest.fixture(scope="module")
def client(served_api: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served_api}/v1", api_key=key, max_retries=0)


def test_the_official_client(client: openai.OpenAI) -> None:
    response = client.moderations.create(model="omni-moderation-latest", input=[INSULT, KIND])
    assert response.id.startswith("modr-")
    assert response.model == "omni-moderation-latest"
    rude, kind = response.results
    assert rude.flagged is True
    assert rude.categories.harassment is True
    assert rude.category_scores.harassment > 0.5
    assert kind.flagged is False
    assert not any(kind.categories.model_dump().values())
    assert rude.category_applied_input_types.harassment == ["text"]
    assert rude.category_applied_input_types.sexual == []
    one = client.moderations.create(input=KIND)  # a single string; the model defaults
    assert len(one.results) == 1
    assert one.model == "omni-moderation-latest"


def test_the_clients_errors(served_api: str, client: openai.OpenAI) -> None:
    wrong = openai.OpenAI(base_url=f"{served_api}/v1", api_key="mod_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.moderations.create(input=KIND)
    assert refused.value.code == "invalid_api_key"
    image: ModerationImageURLInputParam = {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png"},
    }
    with pytest.raises(openai.BadRequestError) as bad:
        client.moderations.create(input=[image])
    assert bad.value.code == "unsupported_input_type"


def _post(api: TestClient, key: str, body: Any) -> Any:
    return api.post("/v1/moderations", json=body, headers={"Authorization": f"Bearer {key}"})


def test_the_exact_shape(api: TestClient, key: str) -> None:
    body = _post(api, key, {"input": INSULT, "model": "text-moderation-stable"}).json()
    assert set(body) == {"id", "model", "results"}
    assert body["model"] == "text-moderation-stable"  # echoed
    [result] = body["results"]
    assert set(result) == {"flagged", "categories", "category_scores",
                           "category_applied_input_types"}  # fmt: skip
    for part in ("categories", "category_scores", "category_applied_input_types"):
        assert list(result[part]) == list(CATEGORIES)
    for category in UNSCORED:  # what the models do not judge: 0, false
        assert result["category_scores"][category] == 0.0
        assert result["categories"][category] is False
    texts = _post(api, key, {"input": [{"type": "text", "text": KIND}]}).json()
    assert texts["results"][0]["flagged"] is False


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_errors_in_openais_shape(api: TestClient, key: str) -> None:
    none = api.post("/v1/moderations", json={"input": KIND}, headers={"Authorization": ""})
    assert _error(none, 401)["type"] == "invalid_request_error"
    assert _error(_post(api, "mod_nope", {"input": KIND}), 401)["code"] == "invalid_api_key"
    reader = as_tenant(api, "openai-reader", ("read",))["Authorization"].split()[-1]
    assert _error(_post(api, reader, {"input": KIND}), 403)["code"] == "insufficient_scope"
    assert _error(_post(api, key, {"input": []}), 400)["message"] == "input must not be empty"
    _error(_post(api, key, {"model": "x"}), 400)
    _error(_post(api, key, {"input": [KIND] * 33}), 400)
