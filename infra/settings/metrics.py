"""Where each process serves its Prometheus metrics (infra/metrics.py, docs/metrics.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings._section import section


class MetricsSettings(BaseSettings):
    """`MODSTREAM_METRICS_*`: the API serves `/metrics` on its own port; the workers and a sink
    running alone each listen on a port of their own (0: no endpoint)."""

    model_config = section("MODSTREAM_METRICS_")

    host: str = Field(default="127.0.0.1", description="Where the workers' endpoints listen.")
    api_route: bool = Field(default=True, description="Serve `GET /metrics` on the API.")
    worker_port: int = Field(default=9464, ge=0, le=65535, description="`modstream worker`.")
    strikes_port: int = Field(default=9465, ge=0, le=65535, description="`modstream strikes`.")
    sink_port: int = Field(
        default=9466, ge=0, le=65535, description="`modstream sink` (a sink of its own)."
    )
    lag_interval: float = Field(
        default=10.0, gt=0, description="Seconds between consumer-lag measurements."
    )
