"""Time series, breakdowns and the overview, from the exact hourly rollup (`api/rollups.py`).

Ranges are aligned to whole hours (the rollup's grain): `since` is rounded down to its hour.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.read.where import WarehouseTime, Where
from api.rollups import HARMFUL
from infra.warehouse import Warehouse
from schemas.events import Kind

MAX_BUCKETS = 5_000


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


_BUCKET_SQL = {
    Interval.HOUR: "hour",
    Interval.DAY: "toStartOfDay(hour)",
    Interval.WEEK: "toDateTime(toMonday(hour), 'UTC')",
}


class Metric(StrEnum):
    DECISION = "decision"
    LABEL = "label"


class Dimension(StrEnum):
    LANG = "lang"
    SOURCE = "source"
    KIND = "kind"
    DECISION = "decision"


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class TimeRange(BaseModel):
    """A range of item time; `since` at or after `until` is an empty range."""

    model_config = ConfigDict(extra="forbid")

    since: WarehouseTime | None = Field(default=None, description="Default: 7 days before `until`.")
    until: WarehouseTime | None = Field(default=None, description="Default: now (exclusive).")
    source: str | None = Field(default=None, min_length=1, max_length=64)

    def bounds(self) -> tuple[datetime, datetime]:
        until = self.until or datetime.now(UTC) + timedelta(hours=1)
        return _hour(self.since or until - timedelta(days=7)), until.astimezone(UTC)


class RangeQuery(TimeRange):
    """A time range (item time) and optional dimension filters."""

    kind: Kind | None = None
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")

    def where(self, tenant: str) -> Where:
        since, until = self.bounds()
        where = Where().add("tenant = {tenant:String}", tenant=tenant)
        where.add("hour >= {since:DateTime('UTC')}", since=since)
        where.add("hour < {until:DateTime64(3, 'UTC')}", until=until)
        where.add_if(self.source, "source = {source:String}", "source")
        where.add_if(self.kind and self.kind.value, "kind = {kind:String}", "kind")
        where.add_if(self.lang, "lang = {lang:String}", "lang")
        return where


class SeriesQuery(RangeQuery):
    metric: Metric = Field(default=Metric.DECISION, description="Count per decision or per label.")
    interval: Interval = Interval.HOUR


class Bucket(BaseModel):
    t: AwareDatetime = Field(description="Start of the bucket.")
    items: int
    counts: dict[str, int] = Field(description="Items per decision, or per label.")


class Series(BaseModel):
    metric: Metric
    interval: Interval
    since: AwareDatetime = Field(
        description=f"Where the buckets start: at most {MAX_BUCKETS:,} of them, the latest."
    )
    until: AwareDatetime
    buckets: list[Bucket]


def _bucket_starts(interval: Interval, since: datetime, until: datetime) -> list[datetime]:
    start = since
    if interval is not Interval.HOUR:
        start = since.replace(hour=0)
    if interval is Interval.WEEK:
        start -= timedelta(days=start.weekday())
    step = {Interval.HOUR: 1, Interval.DAY: 24, Interval.WEEK: 168}[interval]
    n = math.ceil((until - start) / timedelta(hours=step))
    if n > MAX_BUCKETS:  # the latest ones; the answer's `since` says where they start
        start += timedelta(hours=step * (n - MAX_BUCKETS))
        n = MAX_BUCKETS
    return [start + timedelta(hours=step * i) for i in range(max(n, 0))]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def series(warehouse: Warehouse, tenant: str, query: SeriesQuery) -> Series:
    since, until = query.bounds()
    starts = _bucket_starts(query.interval, since, until)
    since = max(since, starts[0]) if starts else since
    where = query.where(tenant)
    bucket = _BUCKET_SQL[query.interval]
    if query.metric is Metric.DECISION:
        counts = "CAST(sumMap(map(toString(decision), items)), 'Map(String, UInt64)')"
    else:
        counts = "CAST(sumMap(labels), 'Map(String, UInt64)')"
    rows = warehouse.rows(
        f"SELECT {bucket} AS t, sum(items) AS n, {counts} AS counts "  # noqa: S608 - allow-list
        f"FROM rollup_hourly FINAL WHERE {where.sql} GROUP BY t",
        where.params,
    )
    found = {_utc(r["t"]): r for r in rows}
    buckets = [
        Bucket(
            t=t,
            items=found[t]["n"] if t in found else 0,
            counts={k: v for k, v in found[t]["counts"].items() if v} if t in found else {},
        )
        for t in starts
    ]
    return Series(
        metric=query.metric, interval=query.interval, since=since, until=until, buckets=buckets
    )


class BreakdownQuery(RangeQuery):
    by: Dimension = Dimension.LANG


class Slice(BaseModel):
    key: str
    items: int
    harmful: int = Field(description=f"Items with toxic >= {HARMFUL}.")
    harmful_rate: float
    decisions: dict[str, int]


class Breakdown(BaseModel):
    by: Dimension
    since: AwareDatetime
    until: AwareDatetime
    data: list[Slice]


def breakdown(warehouse: Warehouse, tenant: str, query: BreakdownQuery) -> Breakdown:
    since, until = query.bounds()
    where = query.where(tenant)
    rows = warehouse.rows(
        f"SELECT toString({query.by.value}) AS key, sum(items) AS n, "  # noqa: S608 - enum
        "sum(harmful) AS n_harmful, "
        "CAST(sumMap(map(toString(decision), items)), 'Map(String, UInt64)') AS decisions "
        f"FROM rollup_hourly FINAL WHERE {where.sql} GROUP BY key HAVING n > 0 "
        "ORDER BY n DESC, key",
        where.params,
    )
    data = [
        Slice(
            key=r["key"],
            items=r["n"],
            harmful=r["n_harmful"],
            harmful_rate=r["n_harmful"] / r["n"],
            decisions={k: v for k, v in r["decisions"].items() if v},
        )
        for r in rows
    ]
    return Breakdown(by=query.by, since=since, until=until, data=data)


class Latency(BaseModel):
    """Judging latency (item time → verdict), from a log-scale histogram (within ~19%)."""

    p50: float | None
    p95: float | None
    p99: float | None


class DeadLetters(BaseModel):
    total: int
    by_reason: dict[str, int]


class Overview(BaseModel):
    since: AwareDatetime
    until: AwareDatetime
    items: int
    decisions: dict[str, int]
    labels: dict[str, int] = Field(description=f"Items per label (score >= {HARMFUL}).")
    harmful: int
    harmful_rate: float
    latency_ms: Latency
    dead_letters: DeadLetters = Field(
        description="Input of this tenant that could not be judged (undecodable input has no "
        "tenant and is not counted here)."
    )


def _percentile(hist: dict[int, int], q: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= q * total:
            return round(2 ** ((bucket + 1) / 4) - 1, 1)  # the bucket's upper bound
    return None  # pragma: no cover - unreachable, seen reaches total


def overview(warehouse: Warehouse, tenant: str, query: RangeQuery) -> Overview:
    since, until = query.bounds()
    where = query.where(tenant)
    row = warehouse.rows(
        "SELECT sum(items) AS n, sum(harmful) AS n_harmful, "  # noqa: S608 - see Where
        "CAST(sumMap(map(toString(decision), items)), 'Map(String, UInt64)') AS decisions, "
        "CAST(sumMap(labels), 'Map(String, UInt64)') AS labels, "
        "CAST(sumMap(latency_hist), 'Map(UInt8, UInt64)') AS latency "
        f"FROM rollup_hourly FINAL WHERE {where.sql}",
        where.params,
    )[0]
    dead = warehouse.rows(
        "SELECT toString(reason) AS reason, count() AS n FROM dead_letters FINAL "
        "WHERE tenant = {tenant:String} AND failed_at >= {since:DateTime64(3, 'UTC')} "
        "AND failed_at < {until:DateTime64(3, 'UTC')} GROUP BY reason",
        {"tenant": tenant, "since": since, "until": until},
    )
    items = int(row["n"] or 0)
    hist: dict[int, int] = dict(row["latency"])
    return Overview(
        since=since,
        until=until,
        items=items,
        decisions={k: v for k, v in row["decisions"].items() if v},
        labels={k: v for k, v in row["labels"].items() if v},
        harmful=int(row["n_harmful"] or 0),
        harmful_rate=(row["n_harmful"] or 0) / items if items else 0.0,
        latency_ms=Latency(
            p50=_percentile(hist, 0.5), p95=_percentile(hist, 0.95), p99=_percentile(hist, 0.99)
        ),
        dead_letters=DeadLetters(
            total=sum(r["n"] for r in dead), by_reason={r["reason"]: r["n"] for r in dead}
        ),
    )
