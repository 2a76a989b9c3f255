"""Media (streams/media, infra/fetch.py): see docs/media.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings._section import section


class MediaSettings(BaseSettings):
    """Fetching, decoding, hashing and judging images and videos: `MODSTREAM_MEDIA_*`."""

    model_config = section("MODSTREAM_MEDIA_")

    max_image_bytes: int = Field(default=20 * 2**20, ge=1024)
    max_video_bytes: int = Field(default=200 * 2**20, ge=1024)
    fetch_timeout: float = Field(default=15.0, gt=0, description="Seconds per fetch.")
    fetch_max_redirects: int = Field(default=3, ge=0, le=10)
    fetch_concurrency: int = Field(default=16, ge=1, le=256)
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs fetched even though not public (e.g. an internal CDN); JSON list.",
    )
    max_pixels: int = Field(default=50_000_000, ge=1, description="Per image or frame.")
    frame_interval: float = Field(default=3.0, gt=0, description="Video sampling, seconds.")
    max_frames: int = Field(default=120, ge=5, description="Frames hashed per video.")
    video_budget: float = Field(default=20.0, gt=0, description="Decode seconds per video.")
    threshold_phash: int = Field(default=10, ge=0, le=64)
    threshold_pdq: int = Field(default=31, ge=0, le=256)
    flood_window: float = Field(default=3600.0, gt=0, description="Seconds.")
    flood_max_matches: int = Field(
        default=200, ge=1, description="Matches of one bank entry per window before quarantine."
    )
    default_decision: Literal["approve", "review", "reject"] = "approve"
    classifier: Path | None = Field(
        default=None, description="An ONNX image classifier (see streams/media/classifier.py)."
    )
    batch_size: int = Field(default=32, ge=1, description="Media events per batch.")
