"""Author statistics: `GET /v1/authors` (sortable, e.g. most harmful first) and one author."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ReadTenant, StateDep
from api.errors import ApiError, responses
from api.read import authors
from api.read.authors import AuthorPage, AuthorQuery, AuthorStats

router = APIRouter(prefix="/v1", tags=["authors"])

EXAMPLE: dict[str, Any] = {
    "author": "user-42",
    "items": 120,
    "decisions": {"approve": 100, "review": 12, "reject": 8},
    "labels": {"toxic": 15, "insult": 9},
    "harmful": 15,
    "harmful_share": 0.125,
    "languages": {"en": 110, "ar": 10},
    "first_seen": "2026-10-01T08:00:00Z",
    "last_seen": "2026-11-21T09:30:00Z",
    "strikes": 8,
}


@router.get(
    "/authors",
    response_model=AuthorPage,
    responses=responses(400, 422, 503),
    summary="Authors with their statistics, sorted",
    description="From a rollup about three seconds behind. `strikes` counts rejected items.",
    openapi_extra={
        "responses": {
            "200": {
                "content": {
                    "application/json": {"example": {"data": [EXAMPLE], "count": 1, "next": None}}
                }
            }
        }
    },
)
def list_authors(
    query: Annotated[AuthorQuery, Query()], state: StateDep, tenant: ReadTenant
) -> AuthorPage:
    return authors.page(state.warehouse, tenant, query)


@router.get(
    "/authors/{author}",
    response_model=AuthorStats,
    responses=responses(404, 422, 503),
    summary="One author's statistics",
    description="Computed live from the author's verdicts; 404 if none is stored.",
    openapi_extra={"responses": {"200": {"content": {"application/json": {"example": EXAMPLE}}}}},
)
def get_author(
    author: Annotated[str, Path(min_length=1, max_length=256, examples=["user-42"])],
    state: StateDep,
    tenant: ReadTenant,
) -> AuthorStats:
    stats = authors.get(state.warehouse, tenant, author)
    if stats is None:
        raise ApiError(404, "not_found", f"no judged items by author {author!r}")
    return stats
