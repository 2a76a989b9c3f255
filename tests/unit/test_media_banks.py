"""Bank entries: a status outside the vocabulary is refused before anything is read."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_status_outside_the_vocabulary_is_a_422(api: TestClient) -> None:
    response = api.put("/v1/media/banks/b/entries/e/status", json={"status": "deleted"})
    assert response.status_code == 422
