"""Judged items: `GET /v1/posts`, filtered, sorted, paged by cursor, or exported."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api import export
from api.accounts import service
from api.deps import ContextDep, Reader, StateDep
from api.errors import ApiError, responses
from api.read import posts
from api.read.posts import Page, PostQuery
from schemas.events import Kind

router = APIRouter(prefix="/v1", tags=["results"])

EXAMPLE_ITEM: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "comments-7731",
    "tenant": "demo",
    "source": "comments",
    "kind": "post",
    "item_id": "7731",
    "author": "user-42",
    "occurred_at": "2026-11-21T09:30:00Z",
    "judged_at": "2026-11-21T09:30:00.180Z",
    "decision": "reject",
    "toxic": 0.93,
    "scores": {"toxic": 0.93, "insult": 0.88},
    "lang": "en",
    "spans": [[9, 15]],
    "model_version": "text-2026.11.1",
    "policy_version": "threshold-v1:0.2/0.8",
    "duplicate_of": None,
    "latency_ms": 180.0,
    "text": "You are stupid",
}


@router.get(
    "/posts",
    response_model=Page,
    responses=responses(400, 422, 503)
    | {
        200: {
            "content": {
                "application/json": {
                    "example": {"data": [EXAMPLE_ITEM], "count": 1, "next": "eyJzIjoi…"}
                },
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
    summary="Judged items, filtered and paged",
    description="Every filter is optional and they combine with AND. Pages follow `next` (a "
    "cursor `<key>~<event id>`: the page starts after that position); the newest items come "
    "first by default. `format=csv` or `format=ndjson` streams every match instead of one "
    "page. Chat messages are private: they are listed only for a caller with the `private` "
    "scope (`kind=chat_message` without it is 403), and every such read is audited "
    "(`private.read`).",
)
def list_posts(
    query: Annotated[PostQuery, Query()], state: StateDep, principal: Reader, ctx: ContextDep
) -> Page | StreamingResponse:
    tenant = principal.tenant
    private = "private" in principal.scopes
    if query.kind == Kind.CHAT_MESSAGE and not private:
        raise ApiError(
            403, "insufficient_scope", "chat messages are private: this needs the 'private' scope"
        )
    if private and query.kind in (None, Kind.CHAT_MESSAGE):
        with state.accounts.session() as session:
            service.audit(
                session, ctx, tenant, principal.actor, "private.read", target="posts",
                detail=service.audit_json(query=query.model_dump(mode="json", exclude_none=True)),
            )  # fmt: skip
    if query.format == "json":
        return posts.page(state.warehouse, tenant, query, private=private)
    items = posts.every(state.warehouse, tenant, query, private=private)
    body = export.ndjson(items) if query.format == "ndjson" else export.csv_rows(items)
    return StreamingResponse(
        body,  # a sync iterator: Starlette pulls it in its thread pool, off the event loop
        media_type=export.MEDIA_TYPES[query.format],
        headers={"Content-Disposition": f'attachment; filename="posts.{query.format}"'},
    )
