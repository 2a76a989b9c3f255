"""Generated media for tests and `modstream bench media`: scenes, their edits, and videos.

A scene is a seeded composition of shapes over a gradient (structure, so perceptual hashes mean
something); the edits are what re-uploads do to an image: crops, resizes, JPEG re-encodes, small
overlays. Videos are scenes panned slowly, encoded with H.264 by PyAV.
"""

from __future__ import annotations

import io
import random
from fractions import Fraction

import av
import numpy as np
from PIL import Image, ImageDraw

SIZE = (640, 360)


def scene(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    rng = random.Random(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    a, b = rng.uniform(-1, 1), rng.uniform(-1, 1)
    base = (128 + 100 * np.sin(a * x / 40 + b * y / 30 + rng.uniform(0, 6))).astype(np.uint8)
    tint = np.array([rng.uniform(0.4, 1.0) for _ in range(3)])
    image = Image.fromarray((base[..., None] * tint).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(6, 12)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(w // 12, w // 3), y0 + rng.randint(h // 12, h // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice((draw.rectangle, draw.ellipse))
        shape((x0, y0, x1, y1), fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def crop(image: Image.Image, share: float = 0.05) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * share), int(h * share)
    return image.crop((dx, dy, w - dx, h - dy))


def resize(image: Image.Image, factor: float = 0.5) -> Image.Image:
    w, h = image.size
    return image.resize(
        (max(1, int(w * factor)), max(1, int(h * factor))), Image.Resampling.LANCZOS
    )


def overlay(image: Image.Image, text: str = "@reposted") -> Image.Image:
    """A near-copy: a small caption in a corner, as reposting apps add."""
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    h = copy.size[1]
    draw.rectangle((8, h - 30, 8 + 8 * len(text), h - 8), fill=(255, 255, 255))
    draw.text((12, h - 28), text, fill=(0, 0, 0))
    return copy


def video(
    seed: int, seconds: float = 6.0, fps: int = 10, size: tuple[int, int] = (320, 180)
) -> bytes:
    """An MP4 (H.264) of scene `seed` panning slowly; every frame differs a little."""
    w, h = size
    big = scene(seed, (w + 64, h + 32))
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        frames = int(seconds * fps)
        for n in range(frames):
            dx = int(64 * n / max(1, frames - 1))
            frame = av.VideoFrame.from_image(big.crop((dx, 16, dx + w, 16 + h)))  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def splice(seeds_and_seconds: list[tuple[int, float]], fps: int = 10) -> bytes:
    """A video of several still scenes in a row (e.g. a known-bad image inside a longer clip)."""
    w, h = 320, 180
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        n = 0
        for seed, seconds in seeds_and_seconds:
            still = scene(seed).resize((w, h), Image.Resampling.LANCZOS)  # the image, scaled
            for _ in range(int(seconds * fps)):
                frame = av.VideoFrame.from_image(still)  # type: ignore[no-untyped-call]
                frame.pts, frame.time_base = n, Fraction(1, fps)
                n += 1
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def reencode(data: bytes, size: tuple[int, int] = (256, 144), crf: int = 35) -> bytes:
    """The same video scaled and re-encoded at a lower quality, as re-uploads are."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as source, av.open(out, "w", format="mp4") as container:
        src = source.streams.video[0]
        stream = container.add_stream("libx264", rate=src.average_rate or 10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf)}
        for n, frame in enumerate(source.decode(src)):
            scaled = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            scaled.pts, scaled.time_base = n, Fraction(1, int(src.average_rate or 10))
            for packet in stream.encode(scaled):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
