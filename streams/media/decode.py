"""Decoding fetched image bytes under a pixel limit (decompression bombs are refused, not decoded).

The header is read first (Pillow opens lazily) and the pixel count checked before any pixel is
decoded; JPEGs are decoded at a reduced scale (`draft`) since every hash works on small images.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from infra.errors import MediaError

HASH_SIDE = 512
"""Images are reduced to this longest side before hashing: perceptual hashes look at less."""


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """An RGB image no larger than HASH_SIDE, or `MediaError` (undecodable, too_many_pixels)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            width, height = opened.size
            if width * height > max_pixels:
                raise MediaError(
                    "too_many_pixels", f"{width}x{height} exceeds {max_pixels:,} pixels"
                )
            opened.draft("RGB", (HASH_SIDE, HASH_SIDE))
            image = opened.convert("RGB")
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError("too_many_pixels", str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:  # what Pillow raises for bad data
        raise MediaError("undecodable", str(exc)[:300]) from exc
    image.thumbnail((HASH_SIDE, HASH_SIDE))
    return image
