"""Analytics: items per decision or per label over a chosen period, as a stacked bar chart, and
the period's breakdown by language, source or kind (the analytics reads' own functions); the
composer's intervention funnels per moderation mode (the activity read of
`/v1/analytics/activity`: warnings shown, then cancelled or posted anyway; rewrites suggested,
then accepted or rejected; posts published); and, for moderators, the model against the
reviewers (the review API's agreement: precision and recall per label, and the threshold that
agreed best), every chart drawn on the server as SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import session
from api.console.chart import HChart, funnel, ratios, stacked
from api.console.web import TenantReaderDep, render
from api.read import activity, analytics
from api.read.activity import ModeActivity
from api.read.analytics import BreakdownQuery, Dimension, Interval, Metric, SeriesQuery, TimeRange
from api.review import agreement
from api.review.agreement import Agreement
from infra.errors import WarehouseError
from infra.warehouse import Warehouse

router = APIRouter(prefix=session.PATH, include_in_schema=False)

PERIODS = {  # the picker: (label, span, bucket, label format)
    "24h": ("last 24 hours", timedelta(hours=24), Interval.HOUR, "%H:00"),
    "7d": ("last 7 days", timedelta(days=7), Interval.DAY, "%a %d"),
    "30d": ("last 30 days", timedelta(days=30), Interval.DAY, "%d %b"),
    "12w": ("last 12 weeks", timedelta(weeks=12), Interval.WEEK, "%d %b"),
}
AGREEMENT_LABELS = 6  # `toxic` and the period's most frequent labels


@dataclass(frozen=True, slots=True)
class Funnel:
    mode: ModeActivity
    chart: HChart


def funnels(warehouse: Warehouse, tenant: str, since: datetime, until: datetime) -> list[Funnel]:
    """One funnel per moderation mode the composer ran in during the period."""
    found = activity.activity(warehouse, tenant, TimeRange(since=since, until=until)).data
    return [
        Funnel(m, funnel([
            ("warnings shown", m.warnings.shown), ("cancelled", m.warnings.yes),
            ("posted anyway", m.warnings.no), ("rewrites suggested", m.rewrites.shown),
            ("rewrites accepted", m.rewrites.yes), ("rewrites rejected", m.rewrites.no),
            ("submits blocked", m.blocked), ("posts published", m.published),
        ]))
        for m in found
    ]  # fmt: skip


def agreements(
    warehouse: Warehouse, tenant: str, labels: list[str], since: datetime, until: datetime
) -> tuple[list[Agreement], HChart]:
    """The model against the reviewers for each label, and their precision and recall."""
    found = [
        agreement.agreement(label, agreement.pairs(warehouse, tenant, label, since, until))
        for label in labels
    ]
    rows: list[tuple[str, float | None, str]] = []
    for a in found:
        rows += [(f"{a.label} precision", a.current.precision, "c-0"),
                 (f"{a.label} recall", a.current.recall, "c-1")]  # fmt: skip
    return found, ratios(rows)


@router.get("/analytics")
def analytics_page(
    request: Request,
    caller: TenantReaderDep,
    period: Annotated[Literal["24h", "7d", "30d", "12w"], Query()] = "7d",
    metric: Annotated[Metric, Query()] = Metric.DECISION,
    by: Annotated[Dimension, Query()] = Dimension.LANG,
) -> Response:
    label, span, interval, fmt = PERIODS[period]
    until = datetime.now(UTC) + timedelta(hours=1)
    since = until - span
    tenant, warehouse = caller.principal.tenant, caller.state.warehouse
    moderates = "moderate" in caller.principal.scopes
    picked = {"periods": PERIODS, "period": period, "metric": metric, "by": by, "label": label}
    try:
        query = SeriesQuery(since=since, until=until, metric=metric, interval=interval)
        series = analytics.series(warehouse, tenant, query)
        parts = analytics.breakdown(
            warehouse, tenant, BreakdownQuery(since=since, until=until, by=by)
        ).data
        composer = funnels(warehouse, tenant, since, until)
        model = None
        if moderates:
            by_label = query.model_copy(update={"metric": Metric.LABEL})
            labels = _labels(analytics.series(warehouse, tenant, by_label))
            model = agreements(warehouse, tenant, labels, since, until)
    except WarehouseError:
        return render(request, "analytics.html", caller, chart=None, parts=[], **picked)
    chart = stacked([(b.t, b.counts) for b in series.buckets], fmt)
    return render(
        request, "analytics.html", caller, chart=chart, parts=parts, metrics=list(Metric),
        dimensions=[d for d in Dimension if d is not Dimension.DECISION], funnels=composer,
        model=model, moderates=moderates, **picked,
    )  # fmt: skip


def _labels(series: analytics.Series) -> list[str]:
    totals: dict[str, int] = {}
    for bucket in series.buckets:
        for key, n in bucket.counts.items():
            totals[key] = totals.get(key, 0) + n
    ranked = sorted((k for k in totals if k != "toxic"), key=lambda k: (-totals[k], k))
    return ["toxic", *ranked[: AGREEMENT_LABELS - 1]]
