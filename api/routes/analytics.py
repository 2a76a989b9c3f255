"""Analytics: time series, breakdowns, the overview, and composer activity funnels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ReadTenant, StateDep
from api.errors import responses
from api.read import activity, analytics
from api.read.activity import ComposerActivity
from api.read.analytics import (
    Breakdown,
    BreakdownQuery,
    Overview,
    RangeQuery,
    Series,
    SeriesQuery,
    TimeRange,
)

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

_RANGE = {"since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"}


def _example(value: dict[str, Any]) -> dict[str, Any]:
    return {"responses": {"200": {"content": {"application/json": {"example": value}}}}}


@router.get(
    "/timeseries",
    response_model=Series,
    responses=responses(422, 503),
    summary="Items per decision or per label over time",
    description="Buckets of an hour, a day or a week (Monday); empty buckets are included.",
    openapi_extra=_example(
        {"metric": "decision", "interval": "hour"}
        | _RANGE
        | {
            "buckets": [
                {
                    "t": "2026-11-20T00:00:00Z",
                    "items": 120,
                    "counts": {"approve": 100, "review": 12, "reject": 8},
                }
            ]
        }
    ),
)
def timeseries(
    query: Annotated[SeriesQuery, Query()], state: StateDep, tenant: ReadTenant
) -> Series:
    return analytics.series(state.warehouse, tenant, query)


@router.get(
    "/breakdown",
    response_model=Breakdown,
    responses=responses(422, 503),
    summary="Items by language, source, kind or decision",
    openapi_extra=_example(
        {"by": "lang"}
        | _RANGE
        | {
            "data": [
                {
                    "key": "en",
                    "items": 900,
                    "harmful": 90,
                    "harmful_rate": 0.1,
                    "decisions": {"approve": 800, "review": 60, "reject": 40},
                }
            ]
        }
    ),
)
def breakdown(
    query: Annotated[BreakdownQuery, Query()], state: StateDep, tenant: ReadTenant
) -> Breakdown:
    return analytics.breakdown(state.warehouse, tenant, query)


@router.get(
    "/overview",
    response_model=Overview,
    responses=responses(422, 503),
    summary="Totals, harmful rate, latency percentiles, dead letters",
    openapi_extra=_example(
        _RANGE
        | {
            "items": 1000,
            "decisions": {"approve": 850, "review": 90, "reject": 60},
            "labels": {"toxic": 110, "insult": 70},
            "harmful": 110,
            "harmful_rate": 0.11,
            "latency_ms": {"p50": 160.0, "p95": 410.0, "p99": 690.0},
            "dead_letters": {"total": 2, "by_reason": {"schema_violation": 2}},
        }
    ),
)
def overview(
    query: Annotated[RangeQuery, Query()], state: StateDep, tenant: ReadTenant
) -> Overview:
    return analytics.overview(state.warehouse, tenant, query)


@router.get(
    "/activity",
    response_model=ComposerActivity,
    responses=responses(422, 503),
    summary="Composer sessions and intervention funnels per moderation mode",
    description="Warnings shown → cancelled vs posted anyway; rewrites suggested → accepted vs "
    "rejected; session time; and the harmful rate of the posts each mode let through. Actions: "
    + ", ".join(f"`{a}` ({why})" for a, why in activity.ACTIONS.items())
    + ".",
    openapi_extra=_example(
        {
            "data": [
                {
                    "mode": "warn",
                    "sessions": 40,
                    "users": 31,
                    "events": 260,
                    "warnings": {"shown": 20, "yes": 12, "no": 8, "rate": 0.6},
                    "rewrites": {"shown": 0, "yes": 0, "no": 0, "rate": None},
                    "blocked": 0,
                    "published": 30,
                    "errors": 1,
                    "avg_session_seconds": 41.5,
                    "posts": 30,
                    "harmful_posts": 3,
                    "harmful_rate": 0.1,
                }
            ]
        }
    ),
)
def composer_activity(
    query: Annotated[TimeRange, Query()], state: StateDep, tenant: ReadTenant
) -> ComposerActivity:
    return activity.activity(state.warehouse, tenant, query)
