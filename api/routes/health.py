"""Liveness and dependencies: `GET /health`."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import StateDep
from infra.kafka import broker_reachable

router = APIRouter(tags=["health"])


class Component(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    broker: Component
    warehouse: Component
    sink: Component


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
    ok = broker_ok and warehouse_ok and sink_state.ok
    if not ok:
        response.status_code = 503
    return Health(
        status="ok" if ok else "degraded",
        broker=Component(ok=broker_ok, detail=state.bootstrap),
        warehouse=Component(
            ok=warehouse_ok, detail="embedded" if state.settings.embedded_warehouse else "server"
        ),
        sink=sink_state,
    )
