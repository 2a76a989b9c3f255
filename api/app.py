"""The FastAPI application factory.

In embedded mode this process owns the chdb warehouse (chdb allows one process per path), so it
also runs the warehouse sink; against a ClickHouse server the sink runs alone (`modstream sink`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console, contract, docs_pages, errors, observability
from api.accounts.limits import LoginLimiter
from api.feed.hub import VerdictHub
from api.review.intake import ReviewIntake
from api.review.webhooks import Deliverer, cipher
from api.rollups import run_refresher
from api.routes import (
    analytics,
    assist,
    audit,
    auth,
    authors,
    deadletters,
    dsa,
    events,
    feed,
    health,
    invites,
    media,
    moderate,
    openai_moderations,
    perspective,
    policy,
    posts,
    reports,
    review,
    review_grants,
    review_reasons,
    rules,
    strikes,
    tenant,
    threads,
    tokens,
    usage,
    users,
    verdicts,
    webhooks,
)
from api.routes import x as x_routes
from api.state import AppState
from infra.accounts import AccountsDB, PrivacyRegistry
from infra.blocks import BlockList
from infra.kafka import Publisher, ensure_topics
from infra.settings import Settings
from infra.warehouse import connect, migrate
from infra.warehouse.reseed import reseed
from infra.warehouse.sink import WarehouseSink

log = logging.getLogger(__name__)

DESCRIPTION = """
Modstream judges what users post — text, chat, media — as it streams through Kafka.

* **Ingest**: `POST /v1/events` publishes events onto their topics.
* **Verdicts**: one per event, on the `verdicts.text` topic (the primary subscription contract)
  and here, from the warehouse; live over Server-Sent Events or a WebSocket.
* **Results and analytics**: judged items, authors, time series, breakdowns, composer activity.
* **Accounts**: every route but `/health` and `/v1/auth/*` needs `Authorization: Bearer …`: an
  API token (`mod_…`, with scopes `ingest`, `read`, `moderate`, `admin`) or a login token from
  `POST /v1/auth/login`. The credential decides the tenant; everything is scoped to it.
"""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class Draining:
    """While the process shuts down, refuse writes (everything but GET, HEAD and OPTIONS) with
    503 and Retry-After, so clients retry after the restart instead of losing a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope.get("app"), "state", None)
        draining = getattr(getattr(state, "modstream", None), "draining", False)
        if scope["type"] == "http" and draining and scope["method"] not in _READS:
            response = errors.error_response(
                503, "draining", "the service is shutting down; retry in a few seconds",
                headers={"Retry-After": str(RETRY_AFTER)},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


_READS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER = 30


class RequestId:
    """Give every request an id (the caller's `X-Request-ID` if well-formed, else a new one),
    for the audit log and the response's `X-Request-ID` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _drain(state: AppState) -> None:
    state.draining = True
    log.info("draining: writes are refused with 503 until this process stops")


# In this order: /v1/verdicts/stream (feed) before /v1/verdicts/{event_id} (verdicts).
ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    auth.me_router,
    tokens.router,
    tenant.router,
    policy.router,
    rules.router,
    users.router,
    invites.router,
    usage.router,
    audit.router,
    events.router,
    feed.router,
    verdicts.router,
    posts.router,
    threads.router,
    strikes.router,
    authors.router,
    analytics.router,
    deadletters.router,
    reports.router,
    review.router,
    review_grants.router,
    review_reasons.router,
    webhooks.router,
    dsa.router,
    media.router,
    x_routes.router,
    assist.router,
    moderate.router,
    perspective.router,
    openai_moderations.router,
    health.router,
)


async def _start(settings: Settings, bootstrap: str, with_sink: bool) -> AppState:
    """Open what the process holds for its lifetime, in dependency order."""
    warehouse = await asyncio.to_thread(connect, settings.warehouse_url)
    await asyncio.to_thread(migrate, warehouse)
    accounts = AccountsDB(settings.accounts_db_url)
    await asyncio.to_thread(accounts.create_schema)
    privacy = PrivacyRegistry(accounts, ttl=settings.accounts.privacy_refresh)
    await ensure_topics(bootstrap)
    publisher = Publisher(bootstrap)
    await publisher.start()
    await reseed(warehouse, publisher, bootstrap)
    state = AppState(
        settings, bootstrap, publisher, warehouse, accounts, privacy,
        LoginLimiter(settings.accounts.login_rate_per_minute),
    )  # fmt: skip
    if with_sink:
        state.sink = WarehouseSink(
            warehouse,
            bootstrap,
            batch_size=settings.sink.batch_size,
            flush_interval=settings.sink.flush_interval,
            privacy=privacy,
        )
        state.sink_task = asyncio.create_task(
            state.sink.run(settings.metrics.lag_interval), name="warehouse-sink"
        )
    state.meter_task = asyncio.create_task(
        state.meter.run(settings.accounts.usage_flush_interval), name="usage-meter"
    )
    state.rollups_task = asyncio.create_task(run_refresher(warehouse), name="rollups")
    state.feed = VerdictHub(bootstrap)
    await state.feed.start()
    state.blocks = BlockList(bootstrap)
    await state.blocks.start()
    _start_review(state)
    return state


def _start_review(state: AppState) -> None:
    """The review intake (review verdicts into queues, verdicts into webhook deliveries) and the
    webhook deliverer, woken when the intake queued deliveries."""
    box = cipher(state.settings.accounts.secret_key)
    state.webhooks = Deliverer(state.accounts, state.settings.review, box)
    state.intake = ReviewIntake(
        state.accounts, state.warehouse, state.bootstrap, on_queued=state.webhooks.wakeup.set
    )
    state.review_tasks = [
        asyncio.create_task(state.intake.run(), name="review-intake"),
        asyncio.create_task(state.webhooks.run(), name="webhooks"),
    ]


async def _stop_review(state: AppState) -> None:
    if state.intake:
        state.intake.stop()
    if state.webhooks:
        state.webhooks.stop()
    for task in state.review_tasks:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
    if state.webhooks:
        await state.webhooks.aclose()


async def _stop(state: AppState) -> None:
    """Close it all in the reverse order; the sink gets ten seconds to flush."""
    await _stop_review(state)
    if state.blocks:
        await state.blocks.stop()
    if state.feed:
        await state.feed.stop()
    if state.rollups_task:
        state.rollups_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.rollups_task
    if state.sink and state.sink_task:
        state.sink.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(state.sink_task, 10)
    if state.meter_task:  # the last counts are written as it stops
        state.meter_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.meter_task
    await state.publisher.stop()
    await asyncio.to_thread(state.warehouse.close)
    await asyncio.to_thread(state.accounts.close)


def create_app(settings: Settings, *, run_sink: bool | None = None) -> FastAPI:
    """Build the API. `run_sink` defaults to True when the warehouse is embedded."""
    bootstrap = settings.require_bootstrap()
    with_sink = settings.embedded_warehouse if run_sink is None else run_sink

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _start(settings, bootstrap, with_sink)
        app.state.modstream = state
        app.state.assist = assist.AssistClient(settings.assist)
        with contextlib.suppress(ValueError, RuntimeError):  # only in the main thread (serve)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _drain, state)
        try:
            yield
        finally:
            await app.state.assist.aclose()
            await _stop(state)

    app = FastAPI(
        title="Modstream",
        version="0.1.0",
        summary="Kafka-native content moderation",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local assets (api/docs_pages.py)
        redoc_url=None,
    )
    errors.install(app)
    contract.install(app)
    app.add_middleware(Draining)
    app.add_middleware(RequestId)
    observability.install(app, settings.api, settings.metrics)
    docs_pages.install(app)
    console.install(app)
    for router in ROUTERS:
        app.include_router(router)

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
            app.openapi_schema = contract.document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
