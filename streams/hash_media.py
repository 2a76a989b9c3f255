"""The media agent: batches from `events.media` through the media pipeline to `verdicts.media`.

Like the text agent, a batch is acknowledged only after its verdicts, dead letters and bank
status changes are acknowledged by the broker. Nothing is judged before the catalog feed has
replayed the banks and earlier verdicts (`CatalogFeed.ready`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from infra.fetch import Fetcher, FetchPolicy
from infra.settings import Settings
from schemas.media import HashType, MediaVerdict
from schemas.records import DeadLetter, Decision
from schemas.topics import DEAD_LETTERS, EVENTS_MEDIA, MEDIA_BANKS, VERDICTS_MEDIA
from streams.app import ModstreamApp
from streams.catalog_feed import CatalogFeed
from streams.dedupe import Ledger, dedupe_store, published_key
from streams.media.catalog import Catalog
from streams.media.classifier import ImageClassifier, OnnxImageClassifier
from streams.media.flood import FloodGuard
from streams.media.pipeline import MediaLimits, MediaPipeline
from streams.pipeline import raw_record
from streams.policy import Policies

log = logging.getLogger(__name__)


def build_pipeline(settings: Settings, policies: Policies) -> MediaPipeline:
    fetcher = Fetcher(
        FetchPolicy.build(
            allowed_networks=settings.media.allowed_networks,
            max_bytes=settings.media.max_image_bytes,
            timeout=settings.media.fetch_timeout,
            max_redirects=settings.media.fetch_max_redirects,
        ),
        max_video_bytes=settings.media.max_video_bytes,
    )
    catalog = Catalog(
        {
            HashType.PDQ: settings.media.threshold_pdq,
            HashType.PHASH: settings.media.threshold_phash,
            HashType.SHA256: 0,
        }
    )
    classifier: ImageClassifier | None = (
        OnnxImageClassifier(settings.media.classifier) if settings.media.classifier else None
    )
    return MediaPipeline(
        fetcher.fetch,
        catalog,
        policies,
        flood=FloodGuard(settings.media.flood_window, settings.media.flood_max_matches),
        limits=MediaLimits(
            max_pixels=settings.media.max_pixels,
            frame_interval=settings.media.frame_interval,
            max_frames=settings.media.max_frames,
            video_budget=settings.media.video_budget,
        ),
        default_decision=Decision(settings.media.default_decision),
        classifier=classifier,
        concurrency=settings.media.fetch_concurrency,
        cache_size=settings.dedupe.cache_size,
        store=dedupe_store(settings),
    )


def register(
    app: ModstreamApp, pipeline: MediaPipeline, settings: Settings, bootstrap: str
) -> None:
    """Attach the media agent and the catalog feed to `app`."""
    source = app.topic(EVENTS_MEDIA.name, value_serializer="raw", key_serializer="raw")
    feed = CatalogFeed(bootstrap, pipeline.catalog)
    ledger = Ledger(settings.dedupe.cache_size, dedupe_store(settings))

    async def send(topic: str, key: str, value: str) -> Awaitable[Any]:
        return await app.producer.send(
            topic, key.encode(), value.encode(), partition=None, timestamp=None, headers=None
        )

    @app.task  # type: ignore[untyped-decorator]
    async def follow_catalog() -> None:
        await feed.run()

    @app.agent(source, name="hash_media")
    async def hash_media(stream: Any) -> AsyncIterator[None]:
        await feed.ready.wait()
        async for events in stream.take_events(
            settings.media.batch_size, within=settings.worker.batch_within
        ):
            result = await pipeline.process([raw_record(e.message) for e in events])
            # Verdicts and dead letters go through the ledger, as in the text agent: an event
            # delivered again after a crash is not published twice. Bank status changes are
            # keyed states: a repeat replaces its first copy.
            records: list[tuple[str, str, MediaVerdict | DeadLetter]] = [
                (VERDICTS_MEDIA.name, v.partition_key, v) for v in result.verdicts
            ]
            records += [(DEAD_LETTERS.name, d.topic, d) for d in result.dead_letters]
            keys = [published_key(record) for *_, record in records]
            fresh = await asyncio.to_thread(ledger.unpublished, keys)
            pending = [
                await send(topic, key, record.model_dump_json())
                for topic, key, record in (records[i] for i in fresh)
            ]
            pending += [
                await send(MEDIA_BANKS.name, b.partition_key, b.model_dump_json())
                for b in result.bank_updates
            ]
            await asyncio.gather(*pending)
            await asyncio.to_thread(ledger.record, [keys[i] for i in fresh])
            for d in result.dead_letters:
                log.warning("dead letter %s[%d]@%d: %s", d.topic, d.partition, d.offset, d.detail)
            log.info(
                "media batch: %d verdicts, %d dead letters, %d duplicates skipped",
                len(result.verdicts), len(result.dead_letters), result.duplicates,
            )  # fmt: skip
            yield None
