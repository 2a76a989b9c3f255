"""Tenant rules through the API: checked as you type, saved as versions only when they compile
and their examples pass, rolled back, admins only, each tenant its own; workers read the
newest version of each tenant (`infra.accounts.rules`)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from infra.accounts.rules import tenant_rules
from tests.support.accounts import as_tenant, state_of
from tests.support.read_rows import new_tenant

FIRST = """rule insults:
    when scores.insult > 0.8
    then reject, queue "priority"
    example fires: scores.insult = 0.9
"""
SECOND = FIRST.replace("0.8", "0.6").replace("0.9", "0.7")


def test_validate_answers_each_problem_with_its_place(api: TestClient) -> None:
    bad = "rule a:\n  when scores.insult > 0.8 and lang > 1\n  then reject"
    found = api.post("/v1/tenant/rules/validate", json={"source": bad})
    assert found.status_code == 200, found.text
    assert found.json() == {
        "valid": False,
        "problems": [{"line": 2, "column": 32, "reason": "cannot compare a string with a number"}],
        "summary": None,
    }
    good = api.post("/v1/tenant/rules/validate", json={"source": FIRST}).json()
    assert good["valid"]
    assert good["summary"]["rules"][0]["actions"] == ["decision reject", "queue priority"]


def test_saves_are_versions_and_a_rollback_is_a_new_one(api: TestClient) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    assert api.get("/v1/tenant/rules", headers=admin).json()["version"] == 0
    first = api.put("/v1/tenant/rules", json={"source": FIRST, "note": "start"}, headers=admin)
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["note"]) == (1, "start")
    second = api.put("/v1/tenant/rules", json={"source": SECOND}, headers=admin).json()
    assert second["version"] == 2
    assert second["rules"][0]["version"] != first.json()["rules"][0]["version"]
    assert tenant_rules(state_of(api).accounts)[tenant] == (2, SECOND)

    back = api.post("/v1/tenant/rules/rollback", json={"version": 1}, headers=admin).json()
    assert (back["version"], back["source"], back["note"]) == (3, FIRST, "rollback to version 1")
    assert api.get("/v1/tenant/rules", headers=admin).json()["source"] == FIRST
    versions = api.get("/v1/tenant/rules/versions", headers=admin).json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    missing = api.post("/v1/tenant/rules/rollback", json={"version": 9}, headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_such_version"

    log = api.get("/v1/audit", params={"action": "tenant.rules"}, headers=admin).json()
    assert [json.loads(e["detail"])["version"] for e in log] == [3, 2, 1]


def test_a_set_that_fails_its_examples_is_refused_and_not_stored(api: TestClient) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    failing = FIRST.replace("example fires: scores.insult = 0.9", "example fires: toxic = 0.9")
    response = api.put("/v1/tenant/rules", json={"source": failing}, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_rules"
    assert error["details"] == [{"line": 4, "column": 5,
                                 "reason": "rule 'insults' should fire on this example; "
                                           "it does not"}]  # fmt: skip
    assert error["message"].startswith("line 4, column 5: rule 'insults' should fire")
    assert api.get("/v1/tenant/rules", headers=admin).json()["version"] == 0
    assert tenant not in tenant_rules(state_of(api).accounts)


def test_only_admins_save_and_each_tenant_sees_its_own(api: TestClient) -> None:
    tenant, other = new_tenant(), new_tenant()
    admin = as_tenant(api, tenant)
    assert api.put("/v1/tenant/rules", json={"source": FIRST}, headers=admin).is_success
    reader = as_tenant(api, tenant, ("read",))
    assert api.get("/v1/tenant/rules", headers=reader).json()["version"] == 1
    assert api.put("/v1/tenant/rules", json={"source": ""}, headers=reader).status_code == 403
    back = {"version": 1}
    assert api.post("/v1/tenant/rules/rollback", json=back, headers=reader).status_code == 403
    assert api.get("/v1/tenant/rules", headers=as_tenant(api, other)).json()["version"] == 0
    rollback = api.post("/v1/tenant/rules/rollback", json=back, headers=as_tenant(api, other))
    assert rollback.status_code == 404
