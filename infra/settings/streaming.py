"""The broker, the stream workers around the models, and the warehouse sink."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from infra.settings._section import section


class BrokerSettings(BaseSettings):
    """The embedded broker: `MODSTREAM_BROKER_STORAGE`."""

    model_config = section("MODSTREAM_BROKER_")

    storage: Literal["durable", "memory"] = Field(
        default="durable",
        description="The embedded broker's storage: `durable` keeps topics and offsets on disk "
        "(a local object store) through any crash; `memory` is faster and loses them.",
    )
    retention_after_read: float = Field(
        default=10.0,
        ge=0,
        description="Seconds the durable embedded broker keeps a record every consumer group "
        "that reads its topic (and the warehouse sink) has committed; unread records are kept "
        "for their topic's retention. Its storage lists a partition's records on every fetch, "
        "so records kept longer make every fetch slower (docs/streaming.md).",
    )

    @property
    def durable(self) -> bool:
        return self.storage == "durable"


class WorkerSettings(BaseSettings):
    """How the stream workers batch and fetch: `MODSTREAM_WORKER_*`."""

    model_config = section("MODSTREAM_WORKER_")

    batch_size: int = Field(default=500, ge=1)
    batch_within: float = Field(
        default=0.02,
        gt=0,
        description="Seconds the media agent waits to fill a batch (the text agent takes what "
        "traffic brings: streams/batching.py).",
    )
    fetch_max_wait_ms: int = Field(default=40, ge=10)
    concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Batches in flight per worker (Faust actors). Above 1, batches of one "
        "partition may be judged out of order, and which of two copies of an item is judged "
        "first is not fixed.",
    )
    pipeline_process: bool = Field(
        default=True,
        description="Judge text in child processes (decoding, the model, rewrites, verdicts), so "
        "the worker's event loop only moves bytes; false judges in a thread of the worker.",
    )
    judges: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="Child processes that judge text, each batch split between them by record "
        "key (per-author order holds); default: one per core, at most 4.",
    )

    @property
    def judge_count(self) -> int:
        return self.judges or max(1, min(4, os.cpu_count() or 1))


class DedupeSettings(BaseSettings):
    """What the workers remember as judged and published: `MODSTREAM_DEDUPE_*`."""

    model_config = section("MODSTREAM_DEDUPE_")

    cache_size: int = Field(default=1_000_000, ge=1_000)
    path: Path | None = Field(
        default=None,
        description="SQLite file that keeps the dedupe memory across restarts; defaults to "
        "data_dir/dedupe.sqlite3.",
    )
    ttl_days: float = Field(
        default=30.0, gt=0, description="Days an item or a text is remembered as judged."
    )


class PolicySettings(BaseSettings):
    """The operator's decision thresholds (streams/policy.py): `MODSTREAM_POLICY_*`."""

    model_config = section("MODSTREAM_POLICY_")

    low: float = Field(default=0.2, ge=0.0, le=1.0, description="Approve at or below.")
    high: float = Field(default=0.8, ge=0.0, le=1.0, description="Reject above.")
    file: Path | None = Field(
        default=None,
        description="JSON: per-label thresholds, per-tenant policies (docs/policies.md).",
    )
    refresh: float = Field(
        default=5.0, gt=0, le=300, description="Seconds between workers' reads of tenant policies."
    )

    @model_validator(mode="after")
    def _check(self) -> PolicySettings:
        if self.low > self.high:
            raise ValueError("policy_low must not exceed policy_high")
        return self


class StrikeSettings(BaseSettings):
    """Strikes (streams/strikes.py): see docs/strikes.md."""

    model_config = section("MODSTREAM_STRIKE_")

    limit: int = Field(
        default=5, ge=1, description="Strikes (rejected items) in the window that block an author."
    )
    window: int = Field(
        default=30 * 86_400, ge=60, description="Seconds a strike counts (by item time)."
    )


class SinkSettings(BaseSettings):
    """The warehouse sink's batches: `MODSTREAM_SINK_*`."""

    model_config = section("MODSTREAM_SINK_")

    batch_size: int = Field(default=5_000, ge=1)
    flush_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds the sink collects records after the first of a batch before it "
        "inserts them (sooner when `batch_size` is reached); also how long it waits for a first "
        "one.",
    )
