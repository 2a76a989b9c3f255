"""Posting through the API: invalid requests are 422s with a code, and who may post as whom."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant, login, make_user
from tests.support.read_rows import new_tenant


@pytest.mark.parametrize(
    ("body", "params", "code"),
    [
        ({}, {}, "invalid_request"),
        ({"text": "   "}, {}, "invalid_request"),
        ({"text": ""}, {}, "invalid_request"),
        ({"text": "x" * 50_001}, {}, "invalid_request"),
        ({"text": "hi", "lang": "English"}, {}, "invalid_request"),
        ({"text": "hi", "title": "t"}, {}, "invalid_request"),
        ({"text": "hi", "author": ""}, {}, "invalid_request"),
        ({"text": "hi", "author": "a"}, {"wait": "soon"}, "invalid_wait"),
        ({"text": "hi", "author": "a"}, {"wait": "11s"}, "invalid_wait"),
        ({"text": "hi", "author": "a"}, {"wait": "00000000000"}, "invalid_wait"),
        ({"text": "hi", "author": "a"}, {"wait": ""}, "invalid_wait"),
        ({"text": "hi", "author": "\f"}, {}, "invalid_request"),
    ],
)
def test_invalid_requests_are_422(
    api: TestClient, body: dict[str, Any], params: dict[str, str], code: str
) -> None:
    response = api.post("/v1/posts", json=body, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_who_may_post_as_whom(api: TestClient) -> None:
    tenant = new_tenant()
    user = make_user(api, tenant, "member")
    as_user = login(api, user)
    other = api.post("/v1/posts", headers=as_user, json={"text": "hi", "author": "someone"})
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "author_mismatch"
    assert api.post("/v1/posts", headers=as_user, json={"text": "hi", "author": user}).is_success
    reader = as_tenant(api, tenant, ("read",))
    no_scope = api.post("/v1/posts", headers=reader, json={"text": "hi", "author": "a"})
    assert no_scope.status_code == 403
    assert no_scope.json()["error"]["code"] == "insufficient_scope"


def test_an_api_token_without_an_author_posts_as_the_app(api: TestClient) -> None:
    """`author` is optional in the schema; an app's token that leaves it out posts as itself
    (schemathesis found the 422 `author_required` this used to be)."""
    headers = as_tenant(api, new_tenant(), ("ingest", "read"))
    posted = api.post("/v1/posts", headers=headers, json={"text": "hi"})
    assert posted.status_code == 202, posted.text
    assert posted.json()["author"].startswith("token:")
