"""The media agent: batches from `events.media` through the media pipeline to `verdicts.media`.

Like the text agent, a batch is acknowledged only after its verdicts, dead letters and bank
status changes are acknowledged by the broker. Nothing is judged before the catalog feed has
replayed the banks and earlier verdicts (`CatalogFeed.ready`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from infra.fetch import Fetcher, FetchPolicy
from infra.settings import MediaSettings
from schemas.media import HashType, MediaVerdict
from schemas.records import DeadLetter, Decision
from schemas.topics import DEAD_LETTERS, EVENTS_MEDIA, MEDIA_BANKS, VERDICTS_MEDIA
from streams.app import ModstreamApp
from streams.catalog_feed import CatalogFeed
from streams.dedupe import DedupeStore, Ledger, published_key
from streams.media.catalog import Catalog
from streams.media.classifier import ImageClassifier, OnnxImageClassifier
from streams.media.flood import FloodGuard
from streams.media.pipeline import MediaLimits, MediaPipeline
from streams.pipeline import raw_record
from streams.policy import Policies
from streams.worker_metrics import count_media_batch

log = logging.getLogger(__name__)


def build_pipeline(
    settings: MediaSettings, policies: Policies, *, cache_size: int, store: DedupeStore
) -> MediaPipeline:
    """The media pipeline; `cache_size` and `store` are the dedupe memory's."""
    fetcher = Fetcher(
        FetchPolicy.build(
            allowed_networks=settings.allowed_networks,
            max_bytes=settings.max_image_bytes,
            timeout=settings.fetch_timeout,
            max_redirects=settings.fetch_max_redirects,
        ),
        max_video_bytes=settings.max_video_bytes,
    )
    catalog = Catalog(
        {
            HashType.PDQ: settings.threshold_pdq,
            HashType.PHASH: settings.threshold_phash,
            HashType.SHA256: 0,
        }
    )
    classifier: ImageClassifier | None = (
        OnnxImageClassifier(settings.classifier) if settings.classifier else None
    )
    return MediaPipeline(
        fetcher.fetch,
        catalog,
        policies,
        flood=FloodGuard(settings.flood_window, settings.flood_max_matches),
        limits=MediaLimits(
            max_pixels=settings.max_pixels,
            frame_interval=settings.frame_interval,
            max_frames=settings.max_frames,
            video_budget=settings.video_budget,
        ),
        default_decision=Decision(settings.default_decision),
        classifier=classifier,
        concurrency=settings.fetch_concurrency,
        cache_size=cache_size,
        store=store,
    )


def register(
    app: ModstreamApp,
    pipeline: MediaPipeline,
    ledger: Ledger,
    bootstrap: str,
    *,
    batch_size: int,
    within: float,
) -> None:
    """Attach the media agent and the catalog feed to `app`: batches of up to `batch_size`
    events, or what came within `within` seconds."""
    source = app.topic(EVENTS_MEDIA.name, value_serializer="raw", key_serializer="raw")
    feed = CatalogFeed(bootstrap, pipeline.catalog)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_catalog() -> None:
        await feed.run()

    @app.agent(source, name="hash_media")
    async def hash_media(stream: Any) -> AsyncIterator[None]:
        await feed.ready.wait()
        async for events in stream.take_events(batch_size, within=within):
            result = await pipeline.process([raw_record(e.message) for e in events])
            # Verdicts and dead letters go through the ledger, as in the text agent: an event
            # delivered again after a crash is not published twice. Bank status changes are
            # keyed states: a repeat replaces its first copy.
            judged: list[tuple[str, str, MediaVerdict | DeadLetter]] = [
                (VERDICTS_MEDIA.name, v.partition_key, v) for v in result.verdicts
            ]
            judged += [(DEAD_LETTERS.name, d.topic, d) for d in result.dead_letters]
            banks = [
                await app.produce(MEDIA_BANKS.name, b.partition_key, b.model_dump_json())
                for b in result.bank_updates
            ]
            await ledger.publish(
                [(topic, key, record.model_dump_json()) for topic, key, record in judged],
                [published_key(record) for *_, record in judged],
                app.produce,
            )
            await asyncio.gather(*banks)
            count_media_batch(len(events), result.verdicts, result.dead_letters)
            for d in result.dead_letters:
                log.warning("dead letter %s[%d]@%d: %s", d.topic, d.partition, d.offset, d.detail)
            log.info(
                "media batch: %d verdicts, %d dead letters, %d duplicates skipped",
                len(result.verdicts), len(result.dead_letters), result.duplicates,
            )  # fmt: skip
            yield None
