"""The hasher conformance suite: every hasher in the registry passes `HasherContract`."""

from __future__ import annotations

from typing import ClassVar

import pytest
from PIL import Image

from schemas.media import HashType
from streams.bench import synthetic
from streams.media.decode import open_image
from streams.media.hashers import BY_TYPE, HASHERS, PDQ, SHA256, Hasher, PHash, distance

ORIGINAL = synthetic.scene(11)
OTHERS = [synthetic.scene(s) for s in (12, 13, 14, 15)]


def prepared(image: Image.Image, fmt: str = "PNG") -> tuple[bytes, Image.Image]:
    data = synthetic.encode(image, fmt)
    return data, open_image(data, 50_000_000)


class HasherContract:
    hasher: ClassVar[Hasher]

    def digest(self, image: Image.Image, fmt: str = "PNG") -> bytes:
        return self.hasher.hash(*prepared(image, fmt))

    def test_width_and_determinism(self) -> None:
        first = self.digest(ORIGINAL)
        assert len(first) * 8 == self.hasher.bits
        assert self.digest(ORIGINAL) == first
        assert distance(first, first) == 0

    def test_registered_under_its_type(self) -> None:
        assert BY_TYPE[self.hasher.hash_type] is self.hasher
        assert 0 <= self.hasher.default_threshold < self.hasher.bits

    def test_different_content_does_not_match(self) -> None:
        original = self.digest(ORIGINAL)
        for other in OTHERS:
            assert distance(original, self.digest(other)) > self.hasher.default_threshold

    def test_edited_copies(self) -> None:
        """Perceptual hashers match re-encodes, resizes and near-copies; exact ones do not."""
        original = self.digest(ORIGINAL)
        edits = {
            "jpeg": self.digest(ORIGINAL, "JPEG"),
            "resize": self.digest(synthetic.resize(ORIGINAL, 0.5)),
            "overlay": self.digest(synthetic.overlay(ORIGINAL)),
        }
        for name, edited in edits.items():
            close = distance(original, edited) <= self.hasher.default_threshold
            assert close == self.hasher.perceptual, name


class TestPHash(HasherContract):
    hasher = BY_TYPE[HashType.PHASH]


class TestPDQ(HasherContract):
    hasher = BY_TYPE[HashType.PDQ]


class TestSHA256(HasherContract):
    hasher = BY_TYPE[HashType.SHA256]


def test_every_registered_hasher_has_a_conformance_class() -> None:
    tested = {cls.hasher.hash_type for cls in HasherContract.__subclasses__()}
    assert tested == {h.hash_type for h in HASHERS}
    assert {type(h) for h in HASHERS} == {PDQ, PHash, SHA256}


def test_a_crop_is_matched_by_one_perceptual_hash_at_least() -> None:
    _, image = prepared(synthetic.crop(ORIGINAL, 0.04))
    _, original = prepared(ORIGINAL)
    assert any(
        distance(h.hash(b"", image), h.hash(b"", original)) <= h.default_threshold
        for h in (BY_TYPE[HashType.PDQ], BY_TYPE[HashType.PHASH])
    )


def test_an_incomplete_hasher_cannot_be_declared() -> None:
    with pytest.raises(TypeError, match="lacks"):

        class Half(Hasher):  # no hash_type, bits, …
            def hash(self, data: bytes, image: Image.Image | None) -> bytes:
                return b""
