"""Sampling video frames to hash (PyAV): every N seconds, and at fixed fingerprint positions.

Frames are taken every `interval` seconds from the start and at 10/30/50/70/90% of the duration
(the fingerprint positions: the same for every copy of a video, however it was cut into GOPs).
Decoding is sequential (every frame is decoded once, only the sampled ones are converted to
pixels), which is cheaper than seeking when samples are a few seconds apart.

Work is bounded on long or hostile files: at most `max_frames` samples, `budget` seconds of
decoding, and `max_pixels` per frame (checked from the stream header before decoding). The
sampler is a generator, so a caller that finds known-bad content stops it early.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
from PIL import Image

from infra.errors import MediaError
from streams.media.decode import HASH_SIDE

FINGERPRINT_POSITIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True, slots=True)
class Frame:
    at_s: float
    image: Image.Image
    fingerprint: bool
    """Taken at a fingerprint position (these are the frames stored for later matches)."""


@dataclass(slots=True)
class VideoInfo:
    duration_s: float | None = None
    width: int = 0
    height: int = 0
    truncated: bool = False
    """Sampling stopped at a bound (frames or time) before the end."""


def targets(duration: float | None, interval: float, max_frames: int) -> list[tuple[float, bool]]:
    """Sample times (seconds) in order, each flagged if it is a fingerprint position."""
    fingerprints = [(duration * p, True) for p in FINGERPRINT_POSITIONS] if duration else []
    regular: list[tuple[float, bool]] = []
    t = 0.0
    while (duration is None or t < duration) and len(regular) < max_frames:
        regular.append((t, False))
        t += interval
    merged = sorted(fingerprints + regular)
    keep = max_frames - len(fingerprints)  # fingerprints are never dropped for the cap
    regular_kept = {t for t, _ in regular[: max(0, keep)]}
    return [(t, fp) for t, fp in merged if fp or t in regular_kept]


def sample(
    data: bytes,
    *,
    interval: float = 3.0,
    max_frames: int = 120,
    max_pixels: int = 50_000_000,
    budget: float = 20.0,
    info: VideoInfo | None = None,
) -> Iterator[Frame]:
    """Yield the sampled frames of a video in time order; raises `MediaError`."""
    info = info if info is not None else VideoInfo()
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError("undecodable", str(exc)[:300]) from exc
    with container:
        if not container.streams.video:
            raise MediaError("undecodable", "no video stream")
        stream = container.streams.video[0]
        info.width, info.height = stream.codec_context.width, stream.codec_context.height
        if info.width * info.height > max_pixels:
            raise MediaError(
                "too_many_pixels", f"{info.width}x{info.height} frames exceed {max_pixels:,}"
            )
        if stream.duration and stream.time_base:
            info.duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            info.duration_s = container.duration / 1_000_000
        stream.thread_type = "AUTO"
        plan = targets(info.duration_s, interval, max_frames)
        deadline = time.monotonic() + budget
        n = 0
        try:
            for frame in container.decode(stream):
                if n >= len(plan):
                    break
                if time.monotonic() > deadline:
                    info.truncated = True
                    break
                at = frame.time if frame.time is not None else 0.0
                if at + 1e-6 < plan[n][0]:
                    continue
                image = frame.to_image()  # type: ignore[no-untyped-call]
                image.thumbnail((HASH_SIDE, HASH_SIDE))
                fingerprint = False
                while n < len(plan) and plan[n][0] <= at + 1e-6:  # one frame may serve several
                    fingerprint = fingerprint or plan[n][1]
                    n += 1
                yield Frame(at, image, fingerprint)
            else:
                info.truncated = info.duration_s is None and len(plan) >= max_frames
        except av.FFmpegError as exc:
            raise MediaError("undecodable", str(exc)[:300]) from exc
