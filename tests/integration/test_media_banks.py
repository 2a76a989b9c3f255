"""Bank entries through the API on the embedded stack: imported, listed, quarantined by a
moderator, re-activated, and refused for unknown entries."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.polling import wait_for


def entries(api: TestClient, bank: str, status: str | None = None) -> list[dict[str, object]]:
    params = {"status": status} if status else {}
    response = api.get(f"/v1/media/banks/{bank}/entries", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_moderator_quarantines_and_reactivates_a_bank_entry(api: TestClient) -> None:
    bank = f"known-bad-{uuid.uuid4().hex[:8]}"
    imported = api.post(
        f"/v1/media/banks/{bank}/entries",
        json={
            "label": "known-bad",
            "source": "test",
            "decision": "reject",
            "entries": [{"hash_type": "phash", "value": "f0e1d2c3b4a59687"}],
        },
    )
    assert imported.status_code == 202, imported.text
    [entry_id] = imported.json()["entry_ids"]
    wait_for(lambda: entries(api, bank), what="the imported entry in the warehouse")

    changed = api.put(
        f"/v1/media/banks/{bank}/entries/{entry_id}/status",
        json={"status": "quarantined", "note": "matching far too often"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "quarantined"
    [quarantined] = wait_for(
        lambda: entries(api, bank, "quarantined"), what="the entry to be quarantined"
    )
    assert quarantined["note"] == "matching far too often"
    assert entries(api, bank, "active") == []

    assert (
        api.put(
            f"/v1/media/banks/{bank}/entries/{entry_id}/status", json={"status": "active"}
        ).status_code
        == 200
    )
    wait_for(lambda: entries(api, bank, "active"), what="the entry to be active again")


def test_changing_an_unknown_entry_is_a_404(api: TestClient) -> None:
    response = api.put("/v1/media/banks/nobank/entries/nothing/status", json={"status": "removed"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
