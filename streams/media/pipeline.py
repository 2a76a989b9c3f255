"""The media pipeline as plain Python: decode → dedupe → fetch → hash → match → decide → verdict.

Fetching is I/O and runs concurrently on the event loop (bounded by a semaphore); hashing, video
decoding and matching are CPU work and run in a thread, off the loop. Nothing is paid twice: an
item already judged is skipped, a URL already judged (per tenant) reuses that verdict without a
fetch, identical bytes (SHA-256) reuse the earlier judgement without decoding, and a near-duplicate
of earlier media inherits its decision (`duplicate_of`) without running a classifier.

A fetch or decode that fails or is refused is a `review` verdict with the reason; only a malformed
event is a dead letter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PIL import Image

from infra.dead_letters import dead_letter, decode_event
from infra.errors import FetchError, InvalidEvent, MediaError
from infra.fetch import Fetched
from schemas.events import MediaEvent
from schemas.media import (
    BankEntry,
    BankStatus,
    HashType,
    MatchKind,
    MediaHash,
    MediaMatch,
    MediaVerdict,
)
from schemas.records import DeadLetter, DeadLetterReason, Decision
from streams.dedupe import DedupeStore, LRUCache, Memory, digest, flush
from streams.media import video
from streams.media.catalog import Catalog, Hit
from streams.media.classifier import ImageClassifier
from streams.media.decode import open_image
from streams.media.flood import FloodGuard
from streams.media.hashers import PDQ, PHash
from streams.pipeline import RawRecord
from streams.policy import Policies

log = logging.getLogger(__name__)

PERCEPTUAL = (PDQ(), PHash())
_SEVERITY = {Decision.APPROVE: 0, Decision.REVIEW: 1, Decision.REJECT: 2}
MAX_MATCHES = 20


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_pixels: int = 50_000_000
    frame_interval: float = 3.0
    max_frames: int = 120
    video_budget: float = 20.0


@dataclass(slots=True)
class MediaBatch:
    verdicts: list[MediaVerdict] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    bank_updates: list[BankEntry] = field(default_factory=list)
    """Entries this batch quarantined (flood protection), to publish on `media.banks`."""
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class _Findings:
    """What judging the content found: its hashes, bank and seen matches, the classifier's
    scores, and the dimensions (and duration) of a video or image."""

    hashes: list[MediaHash]
    matches: list[MediaMatch]
    scores: dict[str, float]
    info: video.VideoInfo


@dataclass(frozen=True, slots=True)
class _Judged:
    decision: Decision
    reason: str
    event_id: str


class MediaPipeline:
    """Judges batches of media events. One per worker process (it holds the catalog and caches)."""

    def __init__(  # noqa: PLR0913 - collaborators, then keyword-only limits with defaults
        self,
        fetch: Callable[[str], Awaitable[Fetched]],
        catalog: Catalog,
        policies: Policies,
        *,
        flood: FloodGuard,
        limits: MediaLimits = MediaLimits(),
        default_decision: Decision = Decision.APPROVE,
        classifier: ImageClassifier | None = None,
        concurrency: int = 16,
        cache_size: int = 200_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: DedupeStore | None = None,
    ) -> None:
        self._fetch = fetch
        self.catalog = catalog
        self.policies = policies
        self.flood = flood
        self.limits = limits
        self.default_decision = default_decision
        self.classifier = classifier
        self._concurrency = concurrency
        self._clock = clock
        self._judged: Memory[str] = Memory(cache_size, store, "media_items")
        self._urls: LRUCache[_Judged] = LRUCache(cache_size)
        self._lock = threading.Lock()

    def policy_version(self, tenant: str) -> str:
        return f"media-v1:{self.default_decision.value}/{self.policies.for_tenant(tenant).version}"

    async def process(self, records: Sequence[RawRecord]) -> MediaBatch:
        result = MediaBatch()
        fresh: list[MediaEvent] = []
        for record in records:
            try:
                event = decode_event(record.value)
                if not isinstance(event, MediaEvent):
                    raise InvalidEvent(
                        DeadLetterReason.WRONG_TOPIC,
                        f"kind {event.kind.value!r} does not belong on {record.topic}",
                    )
            except InvalidEvent as exc:
                result.dead_letters.append(dead_letter(record, exc, self._clock()))
                continue
            item = digest(event.tenant, event.source, event.item_id)
            self._judged.load([item])  # media batches are small: a query per event is cheap
            first = self._judged.get(item)
            if first is not None and first != event.event_id:
                result.duplicates += 1
                continue
            self._judged.put(item, event.event_id)
            fresh.append(event)
        flush(self._judged)  # type: ignore[arg-type]
        todo: list[MediaEvent] = []
        for event in fresh:
            earlier = self._urls.get(digest(event.tenant, str(event.payload.url)))
            if earlier is not None and earlier.event_id != event.event_id:
                reuse = self._verdict(
                    event, earlier.decision, "same_url", duplicate_of=earlier.event_id
                )
                result.verdicts.append(reuse)
            else:
                todo.append(event)
        gate = asyncio.Semaphore(self._concurrency)

        async def fetch(event: MediaEvent) -> Fetched | FetchError:
            async with gate:
                try:
                    return await self._fetch(str(event.payload.url))
                except FetchError as exc:
                    return exc

        fetched = await asyncio.gather(*(fetch(e) for e in todo))
        judged = await asyncio.to_thread(self._judge_all, list(zip(todo, fetched, strict=True)))
        for verdict, updates in judged:
            result.verdicts.append(verdict)
            result.bank_updates.extend(updates)
            if verdict.hashes:
                key = digest(verdict.tenant, verdict.url)
                self._urls.put(key, _Judged(verdict.decision, verdict.reason, verdict.event_id))
        return result

    def _judge_all(
        self, items: list[tuple[MediaEvent, Fetched | FetchError]]
    ) -> list[tuple[MediaVerdict, list[BankEntry]]]:
        out: list[tuple[MediaVerdict, list[BankEntry]]] = []
        for event, fetched in items:
            if isinstance(fetched, FetchError):
                out.append((self._refused(event, fetched.reason, fetched.detail), []))
                continue
            try:
                out.append(self._judge(event, fetched))
            except MediaError as exc:
                out.append((self._refused(event, exc.reason, exc.detail, fetched), []))
        return out

    def _judge(self, event: MediaEvent, fetched: Fetched) -> tuple[MediaVerdict, list[BankEntry]]:
        tenant = event.tenant
        sha = hashlib.sha256(fetched.body).digest()
        hashes = [MediaHash(hash_type=HashType.SHA256, value=sha.hex())]
        found: list[tuple[Hit, float | None]] = [
            (h, None) for h in self.catalog.match(tenant, HashType.SHA256, [sha])[0]
        ]
        info = video.VideoInfo()
        scores: dict[str, float] = {}
        if not any(h.known.kind == MatchKind.SEEN for h, _ in found):  # same bytes: reuse
            stored = self._hash_content(tenant, fetched, info, found, hashes)
            if self.classifier and not _bank_decides(found):
                for labels in self.classifier.classify(stored):
                    for label, p in labels.items():
                        scores[label] = max(scores.get(label, 0.0), p)
        matches = _matches(found)
        updates = self._flood(tenant, matches)
        decision, reason, duplicate_of = self._decide(tenant, matches, scores)
        verdict = self._verdict(
            event, decision, reason, fetched=fetched,
            findings=_Findings(hashes, matches, scores, info), duplicate_of=duplicate_of,
        )  # fmt: skip
        self.catalog.add_seen(
            tenant, event.event_id, decision,
            [(h.hash_type, bytes.fromhex(h.value)) for h in hashes],
        )  # fmt: skip
        return verdict, updates

    def _hash_content(
        self,
        tenant: str,
        fetched: Fetched,
        info: video.VideoInfo,
        found: list[tuple[Hit, float | None]],
        hashes: list[MediaHash],
    ) -> list[Image.Image]:
        """Hash the image or the sampled frames, matching as it goes; returns the images kept
        for a classifier. A video stops at the first frame that matches known-bad content."""
        kept: list[Image.Image] = []
        if fetched.kind == "image":
            image = open_image(fetched.body, self.limits.max_pixels)
            info.width, info.height = image.size
            frames: Iterable[video.Frame] = [video.Frame(0.0, image, True)]
            at_of: Callable[[video.Frame], float | None] = lambda _: None  # noqa: E731
        else:
            frames = video.sample(
                fetched.body,
                interval=self.limits.frame_interval,
                max_frames=self.limits.max_frames,
                max_pixels=self.limits.max_pixels,
                budget=self.limits.video_budget,
                info=info,
            )
            at_of = lambda f: round(f.at_s, 3)  # noqa: E731
        for frame in frames:
            stop = False
            for hasher in PERCEPTUAL:
                value = hasher.hash(b"", frame.image)
                hits = self.catalog.match(tenant, hasher.hash_type, [value])[0]
                found.extend((h, at_of(frame)) for h in hits)
                stop = stop or any(_bad(h) for h in hits)
                if frame.fingerprint:
                    hashes.append(
                        MediaHash(hash_type=hasher.hash_type, value=value.hex(), at_s=at_of(frame))
                    )
            if frame.fingerprint and len(kept) < 5:
                kept.append(frame.image)
            if stop:
                info.truncated = fetched.kind == "video"
                break
        return kept

    def _flood(self, tenant: str, matches: list[MediaMatch]) -> list[BankEntry]:
        updates = []
        now = time.monotonic()
        for i, match in enumerate(matches):
            if match.kind != MatchKind.BANK or match.quarantined or match.entry_id is None:
                continue
            if self.flood.record(tenant, match.entry_id, now):
                entry = self.catalog.quarantine(tenant, match.entry_id)
                log.warning("bank entry %s/%s quarantined: match flood", tenant, match.entry_id)
                matches[i] = match.model_copy(update={"quarantined": True})
                if entry is not None:
                    updates.append(
                        entry.model_copy(
                            update={
                                "status": BankStatus.QUARANTINED,
                                "note": f"more than {self.flood.max_matches} matches in "
                                f"{self.flood.window:g}s",
                                "updated_at": self._clock(),
                            }
                        )
                    )
        return updates

    def _decide(
        self, tenant: str, matches: list[MediaMatch], scores: dict[str, float]
    ) -> tuple[Decision, str, str | None]:
        bank = [m for m in matches if m.kind == MatchKind.BANK and not m.quarantined]
        if bank:
            return max((m.decision for m in bank), key=_SEVERITY.__getitem__), "bank_match", None
        if any(m.kind == MatchKind.BANK for m in matches):
            return Decision.REVIEW, "quarantined_bank_match", None
        seen = [m for m in matches if m.kind == MatchKind.SEEN]
        if seen:
            best = min(seen, key=lambda m: m.distance)
            return best.decision, "seen_match", best.event_id
        if scores:
            policy = self.policies.for_tenant(tenant)
            return policy.decide(max(scores.values()), scores), "classifier", None
        return self.default_decision, "default", None

    def _refused(
        self, event: MediaEvent, reason: str, detail: str, fetched: Fetched | None = None
    ) -> MediaVerdict:
        return self._verdict(event, Decision.REVIEW, reason, detail=detail, fetched=fetched)

    def _verdict(
        self,
        event: MediaEvent,
        decision: Decision,
        reason: str,
        *,
        detail: str | None = None,
        fetched: Fetched | None = None,
        findings: _Findings | None = None,
        duplicate_of: str | None = None,
    ) -> MediaVerdict:
        now = self._clock()
        info = findings.info if findings else None
        scores = findings.scores if findings else {}
        return MediaVerdict(
            event_id=event.event_id,
            tenant=event.tenant,
            source=event.source,
            item_id=event.item_id,
            author=event.author,
            occurred_at=event.occurred_at,
            judged_at=now,
            media_type=fetched.kind if fetched else event.payload.media_type,
            url=str(event.payload.url),
            decision=decision,
            reason=reason,
            detail=detail[:1000] if detail else None,
            content_type=fetched.content_type if fetched else None,
            size_bytes=len(fetched.body) if fetched else None,
            width=info.width or None if info else None,
            height=info.height or None if info else None,
            duration_s=info.duration_s if info else None,
            hashes=findings.hashes if findings else [],
            matches=findings.matches if findings else [],
            scores=scores,
            model_version=self.classifier.version if self.classifier and scores else None,
            policy_version=self.policy_version(event.tenant),
            duplicate_of=duplicate_of,
            latency_ms=max(0.0, (now - event.occurred_at).total_seconds() * 1000),
        )


def _bad(hit: Hit) -> bool:
    return (
        hit.known.kind == MatchKind.BANK
        and hit.known.status == BankStatus.ACTIVE
        and hit.known.decision == Decision.REJECT
    )


def _bank_decides(found: list[tuple[Hit, float | None]]) -> bool:
    return any(
        h.known.kind == MatchKind.BANK and h.known.status == BankStatus.ACTIVE for h, _ in found
    )


def _matches(found: list[tuple[Hit, float | None]]) -> list[MediaMatch]:
    """One match per (owner, hash type): the closest, earliest; bank matches first."""
    best: dict[tuple[str, str | None, HashType], tuple[Hit, float | None]] = {}
    for hit, at in found:
        k = hit.known
        key = (k.kind.value, k.entry_id or k.event_id, hit.hash_type)
        if key not in best or hit.distance < best[key][0].distance:
            best[key] = (hit, at)
    ordered = sorted(
        best.values(), key=lambda p: (p[0].known.kind != MatchKind.BANK, p[0].distance)
    )
    return [
        MediaMatch(
            kind=h.known.kind,
            hash_type=h.hash_type,
            distance=h.distance,
            decision=h.known.decision,
            label=h.known.label,
            bank=h.known.bank,
            entry_id=h.known.entry_id,
            event_id=h.known.event_id,
            at_s=at,
            quarantined=h.known.status == BankStatus.QUARANTINED,
        )
        for h, at in ordered[:MAX_MATCHES]
    ]
