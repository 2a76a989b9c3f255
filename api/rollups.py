"""Rollups that stay exact under replays: recomputed from FINAL reads, never counted at insert.

A materialized view that sums at insert time would count a replayed verdict twice. Instead every
insert into `verdicts` marks its (tenant, hour) and (tenant, author) dirty (migration 0002), and
`refresh()` recomputes exactly those from the deduplicated table, then marks them done at the
version it saw: a mark made meanwhile has a higher version and survives for the next round.
Marks settle for two seconds first (an insert still being written is never half-counted), so
dashboards lag by about three seconds; more while the hour is busy, since a round recomputes the
current hour whole and the refresher keeps its rounds to `MAX_SHARE` of the time.

Items are counted by their effective state: a reviewer's removal counts as `reject`, an approval
(or an overturned removal) as `approve`, over the model's decision. A decision marks its item's
hour and author dirty too (migration 0013), and a recompute joins the few decisions of the dirty
keys (`moderation_actions`, grouped to each item's latest effect) onto their verdicts: the read
routes still read only the rollup tables, and the join's right side is the decisions of the keys
being recomputed, not the table.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from infra.errors import WarehouseError
from infra.warehouse import Warehouse
from schemas.moderation import Effect

log = logging.getLogger(__name__)

HARMFUL = 0.5
"""An item is harmful when `toxic` is at least this; it carries a label when that score is."""


def decided_where(condition: str) -> str:
    """The latest effect of each decided item among the actions matching `condition` (SQL over
    `moderation_actions`' columns): `tenant, event_id, latest`. Only items with a decision have
    a row, so a join on it reads the decisions of those keys, not the verdicts'."""
    return (
        "SELECT tenant, event_id, argMax(effect, (decided_at, action_id)) AS latest "  # noqa: S608
        f"FROM moderation_actions FINAL WHERE effect != 'none' AND {condition} "
        "GROUP BY tenant, event_id"
    )


EFFECTIVE_DECISION = (
    f"multiIf(d.latest = '{Effect.REMOVED.value}', 'reject', "
    f"d.latest = '{Effect.VISIBLE.value}', 'approve', v.decision)"
)
"""The decision an item counts under, with `d` joined by `decided_where` (no row: `''`)."""

_DIRTY_HOURS = (
    "SELECT tenant, hour FROM rollup_dirty_hours FINAL WHERE version <= {upto:DateTime64(6)}"
)
_DIRTY_AUTHORS = (
    "SELECT tenant, author FROM rollup_dirty_authors FINAL WHERE version <= {upto:DateTime64(6)}"
)

_HOURS = f"""
INSERT INTO rollup_hourly
SELECT tenant, hour, decision, source, kind, lang, sum(items), sum(harmful), sumMap(labels),
       sumMap(latency_hist), now64(6)
FROM (
    SELECT v.tenant AS tenant, toStartOfHour(v.occurred_at) AS hour,
           {EFFECTIVE_DECISION} AS decision, v.source AS source, v.kind AS kind, v.lang AS lang,
           toUInt64(1) AS items,
           toUInt64(v.toxic >= {HARMFUL}) AS harmful,
           CAST(mapApply((k, x) -> (k, toUInt64(x >= {HARMFUL})), v.scores),
                'Map(LowCardinality(String), UInt64)') AS labels,
           map(toUInt8(least(255, floor(4 * log2(1 + v.latency_ms)))), toUInt64(1)) AS latency_hist
    FROM verdicts AS v FINAL
    LEFT JOIN ({decided_where(f"(tenant, toStartOfHour(occurred_at)) IN ({_DIRTY_HOURS})")}) AS d
      ON d.tenant = v.tenant AND d.event_id = v.event_id
    WHERE (v.tenant, toStartOfHour(v.occurred_at)) IN ({_DIRTY_HOURS})
      AND v.occurred_at >= (SELECT min(hour) FROM ({_DIRTY_HOURS}))
      AND v.occurred_at < (SELECT max(hour) FROM ({_DIRTY_HOURS})) + INTERVAL 1 HOUR
    UNION ALL
    -- zero rows for every combination stored before, so one that disappeared (a re-judged
    -- item changed its decision) is overwritten with zeros instead of lingering
    SELECT tenant, hour, decision, source, kind, lang, 0, 0,
           CAST(map(), 'Map(LowCardinality(String), UInt64)'), CAST(map(), 'Map(UInt8, UInt64)')
    FROM rollup_hourly FINAL
    WHERE (tenant, hour) IN ({_DIRTY_HOURS})
)
GROUP BY tenant, hour, decision, source, kind, lang
"""  # noqa: S608 - constants only; the one value is a bound parameter

_AUTHORS = f"""
INSERT INTO rollup_authors
SELECT tenant, author, count(), countIf(decision = 'approve'), countIf(decision = 'review'),
       countIf(decision = 'reject'), countIf(toxic >= {HARMFUL}),
       sumMap(CAST(mapApply((k, x) -> (k, toUInt64(x >= {HARMFUL})), scores),
                   'Map(LowCardinality(String), UInt64)')),
       sumMap(CAST(map(lang, toUInt64(1)), 'Map(LowCardinality(String), UInt64)')),
       min(occurred_at), max(occurred_at), now64(6)
FROM (
    SELECT v.tenant AS tenant, v.author AS author, {EFFECTIVE_DECISION} AS decision,
           v.toxic AS toxic, v.scores AS scores, v.lang AS lang, v.occurred_at AS occurred_at
    FROM verdicts_by_author AS v FINAL
    LEFT JOIN ({decided_where(f"(tenant, author) IN ({_DIRTY_AUTHORS})")}) AS d
      ON d.tenant = v.tenant AND d.event_id = v.event_id
    WHERE (v.tenant, v.author) IN ({_DIRTY_AUTHORS})
)
GROUP BY tenant, author
"""  # noqa: S608 - constants only; the one value is a bound parameter


@dataclass(frozen=True, slots=True)
class _Rollup:
    dirty: str
    key: str
    recompute: str


_ROLLUPS = (
    _Rollup("rollup_dirty_hours", "hour", _HOURS),
    _Rollup("rollup_dirty_authors", "author", _AUTHORS),
)


def refresh(
    warehouse: Warehouse, *, settle: float = 0.0, seen: dict[str, datetime] | None = None
) -> int:
    """Recompute every dirty hour and author; returns how many keys were refreshed.

    `settle` leaves marks younger than that many seconds for a later round, so an insert still
    being written is never half-counted and then marked done. `seen` (kept by the caller) holds
    the newest version refreshed per table, so an idle round is one narrow scan, not a FINAL.
    """
    refreshed = 0
    for rollup in _ROLLUPS:
        if seen is not None and rollup.dirty in seen:
            pending = warehouse.rows(
                f"SELECT count() AS n FROM {rollup.dirty} "  # noqa: S608 - constant names
                "WHERE done = 0 AND version > {after:DateTime64(6)}",
                {"after": seen[rollup.dirty]},
            )[0]["n"]
            if not pending:
                continue
        found = warehouse.rows(
            f"SELECT max(version) AS upto, count() AS n FROM {rollup.dirty} FINAL "  # noqa: S608
            "WHERE version <= now64(6) - toIntervalMillisecond({settle_ms:UInt32})",
            {"settle_ms": int(settle * 1000)},
        )[0]
        if not found["n"]:
            continue
        params = {"upto": found["upto"]}
        warehouse.command(rollup.recompute, params)
        warehouse.command(
            f"INSERT INTO {rollup.dirty} SELECT tenant, {rollup.key}, version, 1 "  # noqa: S608
            f"FROM {rollup.dirty} FINAL WHERE version <= {{upto:DateTime64(6)}}",
            params,
        )
        if seen is not None:
            seen[rollup.dirty] = found["upto"]
        refreshed += int(found["n"])
    return refreshed


MAX_SHARE = 0.05
"""The share of the time rounds may take: after a round of `t` seconds the next waits at least
`t / MAX_SHARE - t`. A round recomputes the current hour (and each dirty author) from the
verdicts, so its cost grows with the hour's traffic (about 80 ms of CPU with 10,000 verdicts in
the hour, on the 2-core development machine); every second, it took CPU the API's requests need.
A round that only finds nothing dirty (a few ms) keeps the one-second pace."""


def pause_after(spent: float, interval: float, share: float = MAX_SHARE) -> float:
    """Seconds to wait after a round that took `spent` seconds: `interval`, or longer so rounds
    take at most `share` of the time (wall time: a loaded machine stretches them too)."""
    return max(interval, spent / share - spent)


async def run_refresher(warehouse: Warehouse, interval: float = 1.0, settle: float = 2.0) -> None:
    """Refresh forever (cancel to stop); a failed round is logged and retried."""
    seen: dict[str, datetime] = {}
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            count = await asyncio.to_thread(refresh, warehouse, settle=settle, seen=seen)
            if count:
                log.debug("refreshed %d rollup keys", count)
        except WarehouseError as exc:
            log.warning("rollup refresh failed: %s", exc)
        await asyncio.sleep(pause_after(loop.time() - started, interval))
