"""Bank entries: a status outside the vocabulary is refused before anything is read, and a
hash's length per type is stated by the schema and held by the API alike."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant


def test_a_status_outside_the_vocabulary_is_a_422(api: TestClient) -> None:
    response = api.put("/v1/media/banks/b/entries/e/status", json={"status": "deleted"})
    assert response.status_code == 422


PDQ = "0f" * 32


@pytest.mark.parametrize(
    ("entry", "accepted"),
    [
        ({"hash_type": "pdq", "value": PDQ}, True),
        ({"hash_type": "sha256", "value": PDQ}, True),
        ({"hash_type": "phash", "value": "0f" * 8}, True),
        ({"hash_type": "pdq", "value": "0" * 16}, False),  # schemathesis sent this (was a 422)
        ({"hash_type": "phash", "value": PDQ}, False),
        ({"hash_type": "md5", "value": "0" * 32}, False),
    ],
)
def test_a_hash_length_is_fixed_by_its_type_in_the_schema_as_in_the_api(
    api: TestClient, entry: dict[str, Any], accepted: bool
) -> None:
    body = {"label": "known", "source": "list-1", "decision": "reject", "entries": [entry]}
    document = api.get("/openapi.json").json()
    operation = document["paths"]["/v1/media/banks/{bank}/entries"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    valid = jsonschema_rs.validator_for({"components": document["components"], **schema})
    assert valid.is_valid(body) is accepted
    response = api.post("/v1/media/banks/b1/entries", json=body, headers=as_tenant(api, "banks"))
    assert response.status_code == (202 if accepted else 422), response.text
