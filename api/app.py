"""The FastAPI application factory.

In embedded mode this process owns the chdb warehouse (chdb allows one process per path), so it
also runs the warehouse sink; against a ClickHouse server the sink runs alone (`modstream sink`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import errors
from api.routes import events, health, verdicts
from api.state import AppState
from infra.errors import ConfigError
from infra.kafka import Publisher, ensure_topics
from infra.settings import Settings
from infra.warehouse import connect, migrate
from infra.warehouse.sink import WarehouseSink

log = logging.getLogger(__name__)

DESCRIPTION = """
Modstream judges what users post — text, chat, media — as it streams through Kafka.

* **Ingest**: `POST /v1/events` publishes events onto their topics.
* **Verdicts**: one per event, on the `verdicts.text` topic (the primary subscription contract)
  and here, from the warehouse.
"""


def create_app(settings: Settings, *, run_sink: bool | None = None) -> FastAPI:
    """Build the API. `run_sink` defaults to True when the warehouse is embedded."""
    if not settings.kafka_bootstrap:
        raise ConfigError(
            "MODSTREAM_KAFKA_BOOTSTRAP is not set (or start everything: modstream up)"
        )
    bootstrap = settings.kafka_bootstrap
    with_sink = settings.embedded_warehouse if run_sink is None else run_sink

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warehouse = await asyncio.to_thread(connect, settings.warehouse_url)
        await asyncio.to_thread(migrate, warehouse)
        await ensure_topics(bootstrap)
        publisher = Publisher(bootstrap)
        await publisher.start()
        state = AppState(settings, bootstrap, publisher, warehouse)
        if with_sink:
            state.sink = WarehouseSink(
                warehouse,
                bootstrap,
                batch_size=settings.sink_batch_size,
                flush_interval=settings.sink_flush_interval,
            )
            state.sink_task = asyncio.create_task(state.sink.run(), name="warehouse-sink")
        app.state.modstream = state
        try:
            yield
        finally:
            if state.sink and state.sink_task:
                state.sink.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state.sink_task, 10)
            await publisher.stop()
            await asyncio.to_thread(warehouse.close)

    app = FastAPI(
        title="Modstream",
        version="0.1.0",
        summary="Kafka-native content moderation",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(events.router)
    app.include_router(verdicts.router)
    app.include_router(health.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                events.event_schema_components()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
