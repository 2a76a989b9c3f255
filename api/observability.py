"""What operators and browsers get around the routes: `GET /metrics` (this process's Prometheus
registry, with the warehouse sink's figures when it runs here), each request's latency by route
template, and CORS for the origins the operator allows (none by default)."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from infra.metrics import RequestMetrics
from infra.settings import ApiSettings, MetricsSettings

# What a browser page may send and read: the credential, JSON bodies, the live feed's resume
# point, and the request id and back-off the API answers with.
CORS_HEADERS = ("Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID")
CORS_EXPOSED = ("X-Request-ID", "Retry-After")


def install(app: FastAPI, api: ApiSettings, settings: MetricsSettings) -> None:
    """Add the middleware (CORS outermost, so even a refused request carries its headers) and
    the metrics route."""
    app.add_middleware(RequestMetrics)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(CORS_HEADERS),
            expose_headers=list(CORS_EXPOSED),
            max_age=600,
        )
    if settings.api_route:

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
