"""Property-based checks against the OpenAPI document (schemathesis): generated requests, with
valid credentials, to every documented operation; none may answer 5xx. Bounded: a fixed number
of examples per operation and a deterministic seed. The SSE stream never ends, so it is
exercised in tests/test_live_feed.py instead. The assist service runs, so `POST /v1/assist` is
judged for real."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error

from tests.support.accounts import as_tenant

SETTINGS = hypothesis.settings(
    max_examples=25,
    derandomize=True,  # a deterministic seed
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


# The synchronous routes answer 504 `deadline_exceeded` when no verdict is made within the
# deadline (the caller's own `?deadline=`, down to 1 ms): their documented answer, not a crash
# (tests/integration/schemathesis.toml allows it to the outside run the same way).
SYNCHRONOUS = {"/v1/moderate", "/v1/moderations", "/v1alpha1/comments:analyze"}


def past_deadline(path: str, response: Any) -> bool:
    if path not in SYNCHRONOUS or response.status_code != 504:
        return False
    return bool(response.json()["error"]["code"] == "deadline_exceeded")


def send(api: TestClient, case: Any, headers: dict[str, str]) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    data = kwargs.pop("data", None)
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    for unused in ("verify", "timeout", "allow_redirects", "cookies"):
        kwargs.pop(unused, None)
    return api.request(**kwargs)


# schemathesis draws from `random` inside its strategies; Hypothesis deprecates that (not ours).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_operation_answers_5xx(api: TestClient, assist_service: Any) -> None:
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    headers = as_tenant(api, "fuzz")  # every scope, a tenant of its own
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    tested = []
    for operation in operations:
        if operation.path == "/v1/verdicts/stream":
            continue

        @SETTINGS
        @hypothesis.given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = send(api, case, headers)
            if not past_deadline(operation.path, response):  # noqa: B023 - run() runs at once
                case.validate_response(response, checks=[not_a_server_error])

        run()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 25, tested
