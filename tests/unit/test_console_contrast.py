"""The console's colours: text meets WCAG AA contrast (4.5:1) on every background it is set on,
as its stylesheet promises (read from the stylesheet itself)."""

from __future__ import annotations

import re

import pytest

from api.console.web import HERE

CSS = (HERE / "static" / "console.css").read_text("utf-8")
VARIABLES = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-f]{6})", CSS))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour(name: str) -> str:
    return VARIABLES[name] if not name.startswith("#") else name


@pytest.mark.parametrize(
    ("text", "background"),
    [
        *((t, bg) for t in ("ink", "muted", "accent", "danger", "ok") for bg in ("paper", "band")),
        ("#ffffff", "#10243e"),  # the top bar
        ("#7a0f12", "#fdecec"),  # errors, rejections
        ("#124a1f", "#e8f5ec"),  # confirmations
        ("#5c3c00", "#fff4d6"),  # review badges
        ("ink", "mark"),  # highlighted spans
    ],
)
def test_text_meets_aa_contrast(text: str, background: str) -> None:
    assert contrast(colour(text), colour(background)) >= 4.5


def test_the_stylesheet_defines_the_colours_checked() -> None:
    assert {"ink", "muted", "accent", "danger", "ok", "paper", "band", "mark"} <= set(VARIABLES)
