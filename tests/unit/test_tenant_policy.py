"""Decision policies set by tenant admins through the API: validated, stored and audited (a running
worker applies them without a restart: tests/integration/test_tenant_policy.py); the operator's
policy file underneath."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from infra.errors import AccountsError, ConfigError
from schemas.policy import Band, PolicyDocument
from schemas.records import Decision
from streams.policy import DecisionPolicy, LivePolicies, PolicyBook, Thresholds
from tests.support.accounts import as_tenant, login, make_user
from tests.support.read_rows import new_tenant

STRICT = {"toxic": {"low": 0.0, "high": 0.0}, "labels": {"identity_hate": {"low": 0, "high": 0.3}}}


# --- the document and how policies are laid over each other ---------------------------------


@pytest.mark.parametrize(
    ("flat", "message"),
    [
        ({"toxic": [0.9, 0.1]}, "must not be above high"),
        ({"toxic": [0.1, 1.5]}, "less than or equal to 1"),
        ({"Bad Label": [0.1, 0.2]}, "should match pattern"),
        ({"unknown_language": "maybe"}, "'approve', 'review' or 'reject'"),
        ({"toxic": "strict"}, "valid dictionary"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(flat: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PolicyDocument.from_flat(flat)


def test_a_document_inherits_what_it_leaves_out() -> None:
    base = DecisionPolicy(0.2, 0.8, {"threat": Thresholds(0.1, 0.5)}, Decision.REVIEW)
    doc = PolicyDocument(labels={"identity_hate": Band(low=0.05, high=0.3)})
    policy = DecisionPolicy.from_document(doc, base)
    assert (policy.low, policy.high, policy.unknown_language) == (0.2, 0.8, Decision.REVIEW)
    assert set(policy.labels) == {"threat", "identity_hate"}
    assert policy.decide(0.1, {"identity_hate": 0.4}) is Decision.REJECT
    assert policy.version != base.version


def test_a_broken_policy_file_says_where(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text(json.dumps({"tenants": {"acme": {"toxic": [0.9, 0.1]}}}))
    with pytest.raises(ConfigError, match=r"tenants\.acme: toxic: .*must not be above high"):
        PolicyBook.load(path, DecisionPolicy())
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"policies\.json: Expecting property name"):
        PolicyBook.load(path, DecisionPolicy())


def test_tenant_documents_lie_over_the_operator_file_and_survive_a_failed_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    operator = PolicyBook(DecisionPolicy(0.2, 0.8), {"acme": DecisionPolicy(0.1, 0.6)})
    documents: list[Mapping[str, PolicyDocument] | Exception] = [
        {"acme": PolicyDocument(unknown_language=Decision.REJECT)},
        AccountsError("store down"),
        AccountsError("store still down"),
    ]

    def read() -> Mapping[str, PolicyDocument]:
        found = documents.pop(0)
        if isinstance(found, Exception):
            raise found
        return found

    live = LivePolicies(operator, read)
    assert live.for_tenant("acme") == DecisionPolicy(0.1, 0.6)  # nothing read yet
    live.refresh()
    acme = live.for_tenant("acme")
    assert (acme.low, acme.high, acme.unknown_language) == (0.1, 0.6, Decision.REJECT)
    assert live.for_tenant("other") == DecisionPolicy(0.2, 0.8)
    with caplog.at_level(logging.WARNING, logger="streams.policy"):
        live.refresh()  # the store fails: the last known policies stay in force
        live.refresh()
    assert live.for_tenant("acme") == acme
    assert [r.getMessage() for r in caplog.records] == [
        "tenant policies not refreshed (last known kept): store down"
    ]  # once, not every round


# --- the API --------------------------------------------------------------------------------


def test_admins_set_read_and_drop_their_policy_and_each_change_is_audited(
    api: TestClient,
) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    empty = api.get("/v1/tenant/policy", headers=admin).json()
    assert empty == {"policy": {"toxic": None, "labels": {}, "unknown_language": None},
                     "updated_at": None, "updated_by": None}  # fmt: skip

    put = api.put("/v1/tenant/policy", json=STRICT, headers=admin | {"X-Request-ID": "req-pol"})
    assert put.status_code == 200, put.text
    assert put.json()["policy"]["labels"] == {"identity_hate": {"low": 0.0, "high": 0.3}}
    assert put.json()["updated_by"].startswith("token:")
    assert api.get("/v1/tenant/policy", headers=admin).json() == put.json()

    assert api.delete("/v1/tenant/policy", headers=admin).status_code == 204
    assert api.get("/v1/tenant/policy", headers=admin).json()["updated_at"] is None

    log = api.get("/v1/audit", params={"action": "tenant.policy"}, headers=admin).json()
    assert [e["request_id"] for e in log][1] == "req-pol"
    set_entry, drop_entry = json.loads(log[1]["detail"]), json.loads(log[0]["detail"])
    assert set_entry == {"before": {}, "after": STRICT}
    assert drop_entry == {"before": STRICT, "after": {}}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"toxic": {"low": 0.9, "high": 0.1}}, ["body", "toxic"]),
        ({"labels": {"x y": {"low": 0, "high": 1}}}, ["body", "labels", "x y", "[key]"]),
        ({"tresholds": {}}, ["body", "tresholds"]),
        ({"unknown_language": "sometimes"}, ["body", "unknown_language"]),
    ],
)
def test_an_invalid_policy_gets_a_422_naming_the_field(
    api: TestClient, body: dict[str, Any], where: list[str]
) -> None:
    response = api.put("/v1/tenant/policy", json=body, headers=as_tenant(api, new_tenant()))
    assert response.status_code == 422, response.text
    assert where in [e["loc"] for e in response.json()["error"]["details"]]


def test_only_tenant_admins_change_the_policy_and_tenants_see_only_their_own(
    api: TestClient,
) -> None:
    tenant, other = new_tenant(), new_tenant()
    assert api.put("/v1/tenant/policy", json=STRICT, headers=as_tenant(api, tenant)).is_success
    reader = as_tenant(api, tenant, ("read",))
    assert api.get("/v1/tenant/policy", headers=reader).json()["policy"]["toxic"]["high"] == 0
    assert api.put("/v1/tenant/policy", json={}, headers=reader).status_code == 403
    assert api.delete("/v1/tenant/policy", headers=reader).status_code == 403
    moderator = login(api, make_user(api, tenant, "moderator"))
    assert api.put("/v1/tenant/policy", json={}, headers=moderator).status_code == 403
    assert api.get("/v1/tenant/policy", headers=as_tenant(api, other)).json()["updated_at"] is None
