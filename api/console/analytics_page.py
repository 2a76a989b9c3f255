"""Analytics: items per decision or per label over a chosen period, as a stacked bar chart, and
the period's breakdown by language, source or kind (the analytics reads' own functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import session
from api.console.chart import stacked
from api.console.web import CallerDep, render
from api.read import analytics
from api.read.analytics import BreakdownQuery, Dimension, Interval, Metric, SeriesQuery
from infra.errors import WarehouseError

router = APIRouter(prefix=session.PATH, include_in_schema=False)

PERIODS = {  # the picker: (label, span, bucket, label format)
    "24h": ("last 24 hours", timedelta(hours=24), Interval.HOUR, "%H:00"),
    "7d": ("last 7 days", timedelta(days=7), Interval.DAY, "%a %d"),
    "30d": ("last 30 days", timedelta(days=30), Interval.DAY, "%d %b"),
    "12w": ("last 12 weeks", timedelta(weeks=12), Interval.WEEK, "%d %b"),
}


@router.get("/analytics")
def analytics_page(
    request: Request,
    caller: CallerDep,
    period: Annotated[Literal["24h", "7d", "30d", "12w"], Query()] = "7d",
    metric: Annotated[Metric, Query()] = Metric.DECISION,
    by: Annotated[Dimension, Query()] = Dimension.LANG,
) -> Response:
    label, span, interval, fmt = PERIODS[period]
    until = datetime.now(UTC) + timedelta(hours=1)
    since = until - span
    tenant = caller.principal.tenant
    try:
        series = analytics.series(
            caller.state.warehouse, tenant,
            SeriesQuery(since=since, until=until, metric=metric, interval=interval),
        )  # fmt: skip
        parts = analytics.breakdown(
            caller.state.warehouse, tenant, BreakdownQuery(since=since, until=until, by=by)
        ).data
    except WarehouseError:
        return render(request, "analytics.html", caller, chart=None, periods=PERIODS,
                      period=period, metric=metric, by=by, parts=[], label=label)  # fmt: skip
    chart = stacked([(b.t, b.counts) for b in series.buckets], fmt)
    return render(
        request, "analytics.html", caller, chart=chart, periods=PERIODS, period=period,
        metric=metric, by=by, parts=parts, label=label, metrics=list(Metric),
        dimensions=[d for d in Dimension if d is not Dimension.DECISION],
    )  # fmt: skip
