"""Liveness and dependencies: `GET /health`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import StateDep
from infra.kafka import broker_reachable
from infra.processes import pid_alive

router = APIRouter(tags=["health"])


class Component(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    broker: Component
    warehouse: Component
    sink: Component
    services: Component
    draining: bool = False


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down."}},
    summary="Broker, warehouse and sink status",
)
async def health(state: StateDep, response: Response) -> Health:
    broker_ok, warehouse_ok = await asyncio.gather(
        broker_reachable(state.bootstrap), asyncio.to_thread(state.warehouse.ping)
    )
    sink = state.sink_task
    if sink is None:
        sink_state = Component(ok=True, detail="runs in its own process")
    elif sink.done():
        sink_state = Component(ok=False, detail="stopped")
    else:
        sink_state = Component(
            ok=True, detail=f"running, {state.sink.flushed if state.sink else 0} records stored"
        )
    services = supervised(state.settings.data_dir / "services.json")
    ok = broker_ok and warehouse_ok and sink_state.ok and services.ok and not state.draining
    if not ok:
        response.status_code = 503
    return Health(
        status="ok" if ok else "degraded",
        broker=Component(ok=broker_ok, detail=state.bootstrap),
        warehouse=Component(
            ok=warehouse_ok, detail="embedded" if state.settings.embedded_warehouse else "server"
        ),
        sink=sink_state,
        services=services,
        draining=state.draining,
    )


def supervised(status_file: Path) -> Component:
    """What `modstream up` reports of its services: a crash loop is not ok."""
    try:
        doc: dict[str, Any] = json.loads(status_file.read_text())
    except (OSError, ValueError):
        doc = {}
    if not doc or not pid_alive(int(doc.get("supervisor", -1))):
        return Component(ok=True, detail="not run by modstream up")
    services: dict[str, dict[str, Any]] = doc.get("services", {})
    looping = sorted(name for name, s in services.items() if s.get("state") == "crash-loop")
    parts = [
        f"{name} {s.get('state')}" + (f" ({s['restarts']} restarts)" if s.get("restarts") else "")
        for name, s in sorted(services.items())
    ]
    detail = "; ".join(parts)
    return Component(ok=not looping, detail=f"crash loop: {', '.join(looping)}; {detail}"
                     if looping else detail)  # fmt: skip
