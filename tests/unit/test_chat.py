"""Chat delivery's masking, without the gateway: toxic spans become asterisks, spaces stay."""

from __future__ import annotations

from infra.delivery import mask


def test_mask_replaces_span_characters_but_keeps_spaces() -> None:
    assert mask("you stupid idiot", [(4, 16)]) == "you ****** *****"
    assert mask("bad", []) == "***"
