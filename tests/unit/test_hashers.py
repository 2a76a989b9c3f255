"""The hasher conformance suite: every hasher in the registry passes `HasherContract`."""

from __future__ import annotations

import pytest
from PIL import Image

from schemas.media import HashType
from streams.bench import synthetic
from streams.media.hashers import BY_TYPE, HASHERS, PDQ, SHA256, Hasher, PHash, distance
from tests.support.conformance import ORIGINAL, HasherContract, prepared


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
