"""Text models and what runs around them (streams/text, streams/assist.py): see
docs/text-models.md and docs/assist.md."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from infra.settings._section import section

# Refused by the assist service outside development (streams/assist.py, `check_secret`).
DEV_ASSIST_SECRET = "dev-only-assist-secret-never-use-outside-development"  # noqa: S105


class TextSettings(BaseSettings):
    """The transformer tier, the cascade and thread context: `MODSTREAM_TRANSFORMER_*`, …"""

    # The names share no prefix but `MODSTREAM_`: transformer_*, cascade_*, context_max_items.
    model_config = section("MODSTREAM_")

    transformer_models: dict[str, Path] = Field(
        default_factory=dict,
        description='Exported transformer model dirs per language, JSON: {"ar": "/models/ar"}.',
    )
    transformer_default: bool = Field(
        default=True, description="Use the shipped English transformer when none is configured."
    )
    transformer_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime intra-op threads per model process."
    )
    cascade_low: float = Field(default=0.3, ge=0.0, le=1.0, description="Uncertainty band low.")
    cascade_high: float = Field(default=0.7, ge=0.0, le=1.0, description="Uncertainty band high.")
    cascade_blend: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Transformer weight for escalated texts."
    )
    context_max_items: int = Field(
        default=3, ge=0, le=20, description="Thread context texts read per post (parent first)."
    )

    @model_validator(mode="after")
    def _check(self) -> TextSettings:
        if self.cascade_low > self.cascade_high:
            raise ValueError("cascade_low must not exceed cascade_high")
        return self


class LongTextSettings(BaseSettings):
    """Long texts judged by windows: `MODSTREAM_LONGTEXT_*`."""

    model_config = section("MODSTREAM_LONGTEXT_")

    window_words: int = Field(
        default=30, ge=10, le=1_000, description="Words per window of a long text."
    )
    overlap_words: int = Field(
        default=10, ge=0, le=500, description="Words two neighbouring windows share."
    )
    whole_words: int = Field(
        default=60,
        ge=0,
        le=1_000,
        description="Texts up to this many words are judged whole, longer ones by windows "
        "(the transformer reads about 60 words).",
    )
    rates: dict[int, float] = Field(
        default_factory=lambda: {500: 0.8, 1000: 0.6, 3000: 0.4},
        description="Share of a long text's windows the expensive tier judges, by the text's "
        'length in words (up to N words), JSON: {"500": 0.8, "1000": 0.6, "3000": 0.4}.',
    )
    rate_beyond: float = Field(
        default=0.2, ge=0.0, le=1.0, description="The share for texts longer than every bound."
    )

    @model_validator(mode="after")
    def _check(self) -> LongTextSettings:
        if self.overlap_words >= self.window_words:
            raise ValueError("longtext_overlap_words must be smaller than longtext_window_words")
        if any(n < 1 or not 0.0 <= r <= 1.0 for n, r in self.rates.items()):
            raise ValueError("longtext_rates: word bounds >= 1 and shares in [0, 1]")
        return self


class RewriteSettings(BaseSettings):
    """The chat endpoint behind rewrite suggestions: `MODSTREAM_REWRITE_LLM_*`."""

    model_config = section("MODSTREAM_REWRITE_LLM_")

    url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (POST {url}/chat/completions) for "
        "rewrite suggestions; unset: the offline rewriter only.",
    )
    key: SecretStr | None = Field(
        default=None, description="Sent as a bearer token to the rewrite endpoint."
    )
    model: str = Field(default="gpt-4o-mini", min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=120, description="Seconds per rewrite request.")


class AssistSettings(BaseSettings):
    """The composer assist service and the API's way to it: `MODSTREAM_ASSIST_*`."""

    model_config = section("MODSTREAM_ASSIST_")

    host: str = Field(
        default="127.0.0.1", description="The assist service listens here (loopback only)."
    )
    port: int = Field(default=8002, ge=1, le=65_535)
    secret: SecretStr = Field(
        default=SecretStr(DEV_ASSIST_SECRET),
        description="Shared between the API and the assist service (header X-Assist-Secret). "
        "Outside development the service refuses to start without one of 32+ characters.",
    )
    timeout: float = Field(
        default=2.0, gt=0, le=60, description="Seconds the API waits for the assist service."
    )

    @model_validator(mode="after")
    def _check(self) -> AssistSettings:
        if not _loopback(self.host):
            raise ValueError("assist_host must be a loopback address (127.0.0.1, ::1, localhost)")
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
