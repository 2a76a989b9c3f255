"""What the read routes document: an example of every answer, the common error body."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_read_route_documents_an_example(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    mine = {
        "/v1/posts", "/v1/verdicts/{event_id}", "/v1/verdicts/stream", "/v1/authors",
        "/v1/authors/{author}", "/v1/analytics/timeseries", "/v1/analytics/breakdown",
        "/v1/analytics/overview", "/v1/analytics/activity",
    }  # fmt: skip
    reads = {p: paths[p]["get"] for p in mine}
    for path, operation in reads.items():
        content = operation["responses"]["200"]["content"]
        assert any("example" in c or "examples" in c for c in content.values()), path
        error = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert error["$ref"].endswith("/ErrorBody"), path
