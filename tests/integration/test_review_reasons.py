"""A tenant's own reasons through the API: added (201), changed (200), listed after the defaults,
refused over a default code (409) or an unknown DSA category (422), admins only (403), usable in
reports at once, and removed (204, then 404)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.accounts import as_tenant
from tests.support.read_rows import new_tenant

PATH = "/v1/review/reasons"
BODY = {"title": "Doxxing a streamer", "dsa_category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"}


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_tenants_own_reasons(api: TestClient) -> None:
    tenant = new_tenant()
    admin = as_tenant(api, tenant)
    moderator = as_tenant(api, tenant, ("moderate", "read"))
    added = api.put(f"{PATH}/doxxing", json=BODY, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json() == {"code": "doxxing", "ground": "incompatible"} | BODY
    changed = api.put(f"{PATH}/doxxing", json=BODY | {"ground": "illegal"}, headers=admin)
    assert (changed.status_code, changed.json()["ground"]) == (200, "illegal")
    listed = [r["code"] for r in api.get(PATH, headers=moderator).json()]
    assert listed[-1] == "doxxing"
    assert {"insult", "threat", "no_violation"} <= set(listed)

    assert error(api.put(f"{PATH}/insult", json=BODY, headers=admin)) == (409, "default_reason")
    odd = BODY | {"dsa_category": "STATEMENT_CATEGORY_NONSENSE"}
    assert api.put(f"{PATH}/odd", json=odd, headers=admin).status_code == 422
    assert api.put(f"{PATH}/Not-A-Code", json=BODY, headers=admin).status_code == 422
    assert api.put(f"{PATH}/mine", json=BODY, headers=moderator).status_code == 403

    # A report may name it at once (the item is not judged, so 404 after the category passed);
    # an unknown category is refused first.
    report = {"event_id": "nowhere", "category": "doxxing", "reporter": "r1"}
    assert error(api.post("/v1/reports", json=report, headers=admin)) == (404, "not_found")
    report["category"] = "no_such_reason"
    assert error(api.post("/v1/reports", json=report, headers=admin)) == (422, "unknown_category")

    assert api.delete(f"{PATH}/doxxing", headers=admin).status_code == 204
    assert error(api.delete(f"{PATH}/doxxing", headers=admin)) == (404, "not_found")
    assert error(api.delete(f"{PATH}/insult", headers=admin)) == (409, "default_reason")
