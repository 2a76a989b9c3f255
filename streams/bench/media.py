"""`modstream bench media`: hashing, video sampling and index figures on generated media."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import Progress

from infra.report import Column, Figures
from streams.bench import synthetic
from streams.media import video
from streams.media.decode import open_image
from streams.media.hashers import PDQ, SHA256, PHash
from streams.media.index import HammingIndex


@dataclass
class Row:
    what: str
    figure: float
    unit: str
    note: str = ""


def _figure(value: object) -> str:
    """Rates as whole numbers; small figures (milliseconds) with a decimal."""
    if not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _images(console: Console, n: int) -> list[Row]:
    files = [synthetic.encode(synthetic.scene(i), "JPEG") for i in range(n)]
    rows = []
    for hasher in (PHash(), PDQ(), SHA256()):
        hasher.hash(files[0], open_image(files[0], 50_000_000))  # warm-up: imports, tables
        started = time.perf_counter()
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task(f"{hasher.hash_type.value} on {n} images", total=n)
            for data in files:
                image = open_image(data, 50_000_000) if hasher.perceptual else None
                hasher.hash(data, image)
                progress.advance(task)
        rate = n / (time.perf_counter() - started)
        rows.append(Row(f"image hashes/s, {hasher.hash_type.value}", rate, "hashes/s",
                        "640x360 JPEG, decode included"))  # fmt: skip
    return rows


def _video(console: Console, seconds: float) -> list[Row]:
    with console.status("encoding a test video…"):
        data = synthetic.video(7, seconds=seconds, fps=25, size=(640, 360))
    hashers = (PDQ(), PHash())
    for hasher in hashers:
        hasher.hash(b"", synthetic.scene(0))
    started = time.perf_counter()
    frames = 0
    info = video.VideoInfo()
    for frame in video.sample(data, interval=3.0, max_frames=10_000, budget=600, info=info):
        for hasher in hashers:
            hasher.hash(b"", frame.image)
        frames += 1
    elapsed = time.perf_counter() - started
    return [
        Row("video-seconds/s hashed", seconds / elapsed, "video-s/s",
            f"640x360 H.264 25 fps, {seconds:g}s, {frames} frames, PDQ + pHash"),
    ]  # fmt: skip


def _random(rng: np.random.Generator, n: int, words: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(n, words), dtype=np.uint64)


def _flip(rows: np.ndarray, bits: int, k: int, rng: np.random.Generator) -> np.ndarray:
    out = rows.copy()
    for row in out:
        for b in rng.choice(bits, k, replace=False):
            row[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _index(console: Console, size: int, queries: int, batch: int) -> list[Row]:
    rng = np.random.default_rng(0)
    rows = []
    for name, bits, radius in (("pHash", 64, 10), ("PDQ", 256, 31)):
        words = bits // 64
        with console.status(f"building a {size:,}-hash {name} index…"):
            data = _random(rng, size, words)
            index = HammingIndex(bits)
            started = time.perf_counter()
            index.add(data)
            index.build()
            built = time.perf_counter() - started
        half = queries // 2
        probe = np.concatenate(
            [_flip(data[rng.integers(0, size, half)], bits, radius // 2, rng),
             _random(rng, queries - half, words)]
        )  # fmt: skip
        found = 0
        started = time.perf_counter()
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task(f"{name} lookups", total=queries)
            for i in range(0, queries, batch):
                found += len(set(index.query(probe[i : i + batch], radius).query.tolist()))
                progress.advance(task, min(batch, queries - i))
        mih = queries / (time.perf_counter() - started)
        single = 200 / _timed(lambda: [index.query(probe[i : i + 1], radius) for i in range(200)])  # noqa: B023
        brute = 20 / _timed(lambda: index.brute_force(probe[:20], radius))  # noqa: B023
        fresh = _random(rng, 1, words)
        to_find = _timed(lambda: (index.add(fresh), index.query(fresh, radius)))  # noqa: B023
        rows += [
            Row(f"{name} lookups/s at {size:,} (batches of {batch})", mih, "lookups/s",
                f"r={radius}; {found:,} of {queries:,} matched ({half:,} near copies); "
                f"build {built:.1f}s"),
            Row(f"{name} lookups/s, one at a time", single, "lookups/s", "multi-index hashing"),
            Row(f"{name} lookups/s, brute force", brute, "lookups/s",
                "XOR + np.bitwise_count over packed uint64"),
            Row(f"{name} new hash searchable after", to_find * 1000, "ms", "add + query"),
        ]  # fmt: skip
    return rows


def run(
    console: Console, *, images: int, video_seconds: float, size: int, queries: int, batch: int
) -> Figures:
    """Every measure, timed in turn; progress and status lines go to `console` (stderr)."""
    rows = _images(console, images) + _video(console, video_seconds)
    rows += _index(console, size, queries, batch)
    figures = Figures(
        "modstream bench media",
        [Column("measure"), Column("figure", _figure), Column("unit"), Column("conditions")],
    )
    for row in rows:
        figures.add(row.what, row.figure, row.unit, row.note)
    return figures
