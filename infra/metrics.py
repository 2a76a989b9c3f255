"""Prometheus metrics, one registry per process (docs/metrics.md).

Every service counts into the process's default registry: the API serves it on `GET /metrics`
(with the warehouse sink's figures, when the sink runs there), and a worker, the strikes worker
or a sink on its own serves it on a port of its own (`MODSTREAM_METRICS_*_PORT`). The text
pipeline's child process does not count: its figures (tier latency, escalations, verdicts)
travel back with each batch's result and are counted in the worker.

Labels stay bounded: topics, decisions, model labels, dead-letter reasons, partitions and route
templates, never ids, tenants or raw paths.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# A label counts toward `modstream_verdict_labels_total` when its score reaches this.
LABEL_FLAGGED_AT = 0.5

_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000)
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EVENTS_IN = Counter(
    "modstream_events_in", "Records consumed from a topic, by topic.", ["topic"]
)  # fmt: skip
EVENTS_OUT = Counter(
    "modstream_events_out", "Records published and acknowledged by the broker, by topic.", ["topic"]
)
VERDICTS = Counter(
    "modstream_verdicts", "Verdicts made, by kind (text, media) and decision.",
    ["kind", "decision"],
)  # fmt: skip
VERDICT_LABELS = Counter(
    "modstream_verdict_labels",
    f"Verdicts per model label scoring at least {LABEL_FLAGGED_AT}, by kind and decision.",
    ["kind", "decision", "label"],
)
DEAD_LETTERS = Counter("modstream_dead_letters", "Dead letters, by reason.", ["reason"])
BATCH_SIZE = Histogram(
    "modstream_batch_size", "Records per batch, by stage.", ["stage"], buckets=_BATCH
)
MODEL_SECONDS = Histogram(
    "modstream_model_seconds", "Seconds a model tier spent on one batch.", ["tier"],
    buckets=_SECONDS,
)  # fmt: skip
TEXTS_SCORED = Counter("modstream_texts_scored", "Texts the fast tier scored.")
TEXTS_ESCALATED = Counter(
    "modstream_texts_escalated",
    "Texts (windows of long texts) the cascade sent on to a transformer; the escalation share "
    "is this over modstream_texts_scored.",
)
CONSUMER_LAG = Gauge(
    "modstream_consumer_lag",
    "Records of a partition not yet committed by the consumer group (end minus committed).",
    ["group", "topic", "partition"],
)
SINK_FLUSH_SECONDS = Histogram(
    "modstream_sink_flush_seconds", "Seconds one warehouse insert of a batch took.",
    buckets=_SECONDS,
)  # fmt: skip
SINK_ROWS = Counter("modstream_sink_rows", "Rows written to the warehouse, by table.", ["table"])
SINK_RETRIES = Counter("modstream_sink_retries", "Warehouse inserts retried after a failure.")
HTTP_SECONDS = Histogram(
    "modstream_http_request_seconds",
    "API request latency, by method, route template and status.",
    ["method", "route", "status"],
    buckets=_SECONDS,
)


def count_verdict(kind: str, decision: str, scores: Mapping[str, float]) -> None:
    VERDICTS.labels(kind, decision).inc()
    for label, score in scores.items():
        if score >= LABEL_FLAGGED_AT:
            VERDICT_LABELS.labels(kind, decision, label).inc()


def serve(port: int, host: str = "127.0.0.1") -> bool:
    """Serve this process's registry on `http://host:port/metrics` (a daemon thread). Port 0
    means no endpoint. A port in use is logged as an error, not raised: a worker without its
    endpoint still moderates, one in a crash loop does not."""
    if port == 0:
        return False
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("cannot serve metrics on %s:%d: %s", host, port, exc)
        return False
    log.info("metrics on http://%s:%d/metrics", host, port)
    return True


class RequestMetrics:
    """ASGI middleware: each HTTP request's latency by route template (`/v1/verdicts/{event_id}`,
    not the raw path, so ids never become label values); unmatched paths count as `unmatched`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_SECONDS.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )
