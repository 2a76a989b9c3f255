"""Human review (api/review): queues, leases, appeals and webhooks: see docs/review.md."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings._section import section


class ReviewSettings(BaseSettings):
    """Leases, the appeal window, the default SLA and webhook deliveries: `MODSTREAM_REVIEW_*`."""

    model_config = section("MODSTREAM_REVIEW_")

    lease: float = Field(
        default=600.0, gt=0, description="Seconds a claim holds an item before it returns."
    )
    appeal_window: int = Field(
        default=183 * 86_400, ge=60, description="Seconds after a decision its author may appeal."
    )
    sla: int = Field(
        default=86_400, ge=60, description="Seconds an item may wait, for queues that set none."
    )
    webhook_attempts: int = Field(
        default=8, ge=1, le=30, description="Tries before a delivery is dead-lettered."
    )
    webhook_backoff: float = Field(
        default=2.0, gt=0, description="Seconds before the first retry; doubled each time."
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per attempt.")
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs webhooks may target even though not public (an internal receiver); "
        "JSON list. Every other target must resolve to public addresses only.",
    )
