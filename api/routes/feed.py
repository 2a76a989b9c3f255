"""The live verdict feed over HTTP: Server-Sent Events and a WebSocket twin.

Both serve the verdict topic (`verdicts.text`), which stays the primary subscription contract:
services that speak Kafka should consume it directly. Each message carries its position; resume
with `Last-Event-ID` (SSE does it on reconnect) or `since=<position>`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.accounts import service
from api.accounts.service import Context, Principal
from api.deps import ContextDep, Reader, StateDep, check_tenant_read, context, principal_for
from api.errors import ApiError, error_response, responses
from api.feed import position
from api.feed.hub import FeedClosed, FeedFilter, Subscription, VerdictHub
from api.feed.position import Start
from api.state import AppState
from schemas.records import Decision

router = APIRouter(prefix="/v1", tags=["live feed"])

KEEP_ALIVE = 15.0


class FeedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: list[str] = Field(default_factory=list, description="Any of these sources.")
    decision: list[Decision] = Field(default_factory=list, description="Any of these decisions.")
    label: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    since: str | None = Field(
        default=None,
        max_length=2_000,
        description="`now` (default), `earliest`, an ISO-8601 time, or a position "
        "(`partition:offset,…`, the `id` of a received message). `Last-Event-ID` wins.",
    )

    def feed_filter(self, reader: Principal) -> FeedFilter:
        """The tenant (and whether chat messages are seen) always comes from the caller's
        credential, never from the query."""
        return FeedFilter(
            tenant=reader.tenant,
            sources=frozenset(self.source),
            decisions=frozenset(d.value for d in self.decision),
            label=self.label,
            min_score=self.min_score,
            private="private" in reader.scopes,
        )


class WsFeedQuery(FeedQuery):
    token: str | None = Field(
        default=None,
        max_length=4_000,
        description="The credential, for browsers (they cannot set headers on a WebSocket). "
        "Prefer the `Authorization` header: URLs end up in logs.",
    )


def audit_subscription(
    state: AppState, ctx: Context, reader: Principal, feed: FeedFilter, via: str, since: str | None
) -> None:
    """A subscription that receives chat messages' verdicts is a private read: audited once,
    when it starts (who, from where, its filters), as reading them by id or by page is."""
    if not feed.private:
        return
    detail = service.audit_json(
        sources=sorted(feed.sources), decisions=sorted(feed.decisions), label=feed.label,
        min_score=feed.min_score, since=since or "now",
    )  # fmt: skip
    with state.accounts.session() as session:
        service.audit(
            session, ctx, reader.tenant, reader.actor, "private.read", target=f"verdicts:{via}",
            detail=detail,
        )  # fmt: skip


def get_hub(request: Request) -> VerdictHub:
    hub: VerdictHub | None = request.app.state.modstream.feed
    if hub is None:
        raise ApiError(503, "feed_unavailable", "the live feed is not running")
    return hub


def get_ws_hub(websocket: WebSocket) -> VerdictHub | None:
    hub: VerdictHub | None = websocket.app.state.modstream.feed
    return hub


def _start(value: str | None) -> Start:
    try:
        return position.parse(value or "now")
    except ValueError as exc:
        raise ApiError(
            400, "invalid_position", f"cannot start the feed at {value!r}: {exc}"
        ) from exc


def _sse(event: str, data: str, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


@router.get(
    "/verdicts/stream",
    response_class=StreamingResponse,
    responses=responses(400, 401, 403, 422, 429, 503)
    | {
        200: {
            "description": "An event stream: `ready` (the starting position), then one `verdict` "
            "per judged item (data: the Verdict record, id: the position after it), and "
            "`closed` (reason and position) if the server drops a slow subscriber.",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": 'id: 0:13,1:7,2:0,3:4\nevent: verdict\ndata: {"event_id": '
                    '"comments-7731", "decision": "reject", …}\n\n',
                }
            },
        }
    },
    summary="Live verdicts as Server-Sent Events",
    description="Verdicts of the caller's tenant as they reach the `verdicts.text` topic, "
    "filtered by source, decision and label. Order is kept per author (one partition). "
    "Chat messages are private: sent only to a caller with the `private` scope, and each "
    "such subscription is audited once as it starts (`private.read`, target `verdicts:stream`). "
    "Resumable: reconnect with `Last-Event-ID` (browsers do) or `since`.",
)
async def stream_verdicts(
    query: Annotated[FeedQuery, Query()],
    reader: Reader,
    hub: Annotated[VerdictHub, Depends(get_hub)],
    state: StateDep,
    ctx: ContextDep,
    last_event_id: Annotated[str | None, Header(max_length=2_000)] = None,
) -> StreamingResponse:
    since = last_event_id or query.since
    start = _start(since)
    feed = query.feed_filter(reader)
    await run_in_threadpool(audit_subscription, state, ctx, reader, feed, "stream", since)
    sub = await hub.subscribe(feed, start)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 1000\n\n" + _sse("ready", json.dumps({"position": sub.token}), sub.token)
            while True:
                try:
                    delivery = await asyncio.wait_for(sub.next(), KEEP_ALIVE)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                except FeedClosed as closed:
                    payload = {"reason": closed.reason, "position": closed.position}
                    yield _sse("closed", json.dumps(payload), closed.position)
                    return
                yield _sse("verdict", delivery.value.decode(), sub.token)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.websocket("/verdicts/ws", name="verdicts_ws")
async def verdicts_ws(
    websocket: WebSocket,
    query: Annotated[WsFeedQuery, Query()],
    hub: Annotated[VerdictHub | None, Depends(get_ws_hub)],
) -> None:
    """The WebSocket twin of `/v1/verdicts/stream`: JSON messages `{"type": "ready" | "verdict" |
    "closed", "position", "verdict"?, "reason"?}`, same filters and `since`.

    Authentication: `Authorization: Bearer …`, or (browsers cannot set headers on a WebSocket)
    the `token` query parameter. A refusal is an HTTP 401/403/429 before the upgrade. A
    subscription with the `private` scope is audited once (`private.read`, `verdicts:ws`)."""
    denied = await _authorize_ws(websocket, query.token)
    if isinstance(denied, JSONResponse):
        await websocket.send_denial_response(denied)
        return
    reader = denied
    if hub is None:
        await websocket.close(code=1013, reason="the live feed is not running")
        return
    try:
        start = position.parse(query.since or "now")
    except ValueError as exc:
        await websocket.close(code=1008, reason=f"invalid since: {exc}"[:120])
        return
    feed = query.feed_filter(reader)
    state = websocket.app.state.modstream
    await run_in_threadpool(
        audit_subscription, state, context(websocket), reader, feed, "ws", query.since
    )
    await websocket.accept()
    sub = await hub.subscribe(feed, start)
    try:
        await websocket.send_json({"type": "ready", "position": sub.token})
        await _pump(websocket, sub)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)


async def _authorize_ws(websocket: WebSocket, token: str | None) -> Principal | JSONResponse:
    """The caller (scope `read`, not a reviewer limited to queues), or the refusal to send
    instead of accepting."""
    scheme, _, header = (websocket.headers.get("authorization") or "").partition(" ")
    credential = header.strip() if scheme.lower() == "bearer" else None
    state = websocket.app.state.modstream
    try:
        principal = await run_in_threadpool(principal_for, state, credential or token)
        return check_tenant_read(principal)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    """Send verdicts until the feed closes or the client goes (noticed even while idle)."""
    gone = asyncio.create_task(websocket.receive())
    try:
        while True:
            nxt = asyncio.create_task(sub.next())
            await asyncio.wait({nxt, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                nxt.cancel()
                return
            try:
                delivery = nxt.result()
            except FeedClosed as closed:
                await websocket.send_json(
                    {"type": "closed", "reason": closed.reason, "position": closed.position}
                )
                await websocket.close(code=1013, reason="resume from the position")
                return
            await websocket.send_text(
                f'{{"type":"verdict","position":"{sub.token}","verdict":{delivery.value.decode()}}}'
            )
    finally:
        gone.cancel()
