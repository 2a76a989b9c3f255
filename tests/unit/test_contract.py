"""The OpenAPI document states what the API really answers: the shared error answers with the
one error body, and a 405 whose `Allow` lists every method of the path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


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
