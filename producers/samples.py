"""The bundled sample events, fed through the HTTP API by `modstream produce samples`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx

from infra.errors import BrokerError


def sample_events(now: datetime | None = None) -> list[dict[str, Any]]:
    """The samples as events, stamped a few seconds apart ending at `now`."""
    now = now or datetime.now(UTC)
    lines = (resources.files("producers") / "samples.jsonl").read_text("utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    for i, event in enumerate(events):
        event["occurred_at"] = (now - timedelta(seconds=len(events) - i)).isoformat()
    return events


def feed(api_url: str, events: list[dict[str, Any]], token: str, batch: int = 100) -> int:
    """POST events to the API in batches (with an `ingest` token); how many were accepted."""
    accepted = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, timeout=30, headers=headers) as client:
        for start in range(0, len(events), batch):
            try:
                response = client.post("/v1/events", json=events[start : start + batch])
            except httpx.HTTPError as exc:
                raise BrokerError(f"cannot reach the API at {api_url}: {exc}") from exc
            if response.status_code != 202:
                raise BrokerError(f"the API refused the samples: {response.text[:500]}")
            accepted += response.json()["accepted"]
    return accepted
