"""Hashers: one class per hash type behind one interface, and the registry of them.

A hasher names its type, its width in bits and its default match threshold, and turns content into
a fixed-width hash (big-endian bytes). Perceptual hashers read decoded pixels; the exact hasher
reads the file's bytes. Adding a type touches this module (a class and the registry) and nothing
else; `tests/support/conformance.py` holds the conformance suite every hasher must pass
(`tests/unit/test_hashers.py` runs it for each).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import ClassVar

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from schemas.media import HashType


class Hasher(ABC):
    hash_type: ClassVar[HashType]
    bits: ClassVar[int]
    default_threshold: ClassVar[int]
    """Hamming distance at or below which two hashes are the same content."""
    perceptual: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        missing = [
            name
            for name in ("hash_type", "bits", "default_threshold", "perceptual")
            if not hasattr(cls, name)
        ]
        if missing:
            raise TypeError(f"{cls.__name__} lacks {', '.join(missing)}")
        if cls.bits % 64:
            raise TypeError(f"{cls.__name__}.bits must be a multiple of 64")

    @abstractmethod
    def hash(self, data: bytes, image: Image.Image | None) -> bytes:
        """The hash of one item: `data` is the file, `image` its decoded pixels (perceptual
        hashers need it; video frames have no file of their own and pass b"")."""


class PHash(Hasher):
    """The DCT perceptual hash (imagehash), 64 bits."""

    hash_type = HashType.PHASH
    bits = 64
    default_threshold = 10
    perceptual = True

    def hash(self, data: bytes, image: Image.Image | None) -> bytes:
        if image is None:
            raise ValueError("pHash needs pixels")
        bits = imagehash.phash(image).hash.flatten()
        return np.packbits(bits).tobytes()


class PDQ(Hasher):
    """Meta's PDQ, 256 bits; robust to resizes, crops, re-encodes. (Quality is not used.)"""

    hash_type = HashType.PDQ
    bits = 256
    default_threshold = 31
    perceptual = True

    def hash(self, data: bytes, image: Image.Image | None) -> bytes:
        if image is None:
            raise ValueError("PDQ needs pixels")
        bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
        return np.packbits(bits.astype(bool)).tobytes()


class SHA256(Hasher):
    """The exact bytes: only identical files match (distance 0)."""

    hash_type = HashType.SHA256
    bits = 256
    default_threshold = 0
    perceptual = False

    def hash(self, data: bytes, image: Image.Image | None) -> bytes:
        return hashlib.sha256(data).digest()


HASHERS: tuple[Hasher, ...] = (PDQ(), PHash(), SHA256())
BY_TYPE: dict[HashType, Hasher] = {h.hash_type: h for h in HASHERS}


def distance(a: bytes, b: bytes) -> int:
    if len(a) != len(b):
        raise ValueError("hashes of different widths")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
