"""A stacked bar chart as plain SVG shapes, computed here and drawn by a template: no chart
script to vendor, nothing for the browser to run, and it prints as it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 900, 260, 44, 24, 10
# Decisions keep their usual colours; other keys take the palette in order (colour-blind safe).
FIXED = {"approve": "c-approve", "review": "c-review", "reject": "c-reject"}
PALETTE = ("c-0", "c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-7")


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    keys: list[tuple[str, str, int]]  # (key, css class, total)
    ticks: list[tuple[float, str]]  # y axis: (y, label)
    labels: list[tuple[float, str]]  # x axis: (x, label)
    peak: int
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM


def _nice(peak: int) -> int:
    step = 1
    while step * 10 < peak:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= peak:
            return step * factor
    return step * 10


def stacked(buckets: Sequence[tuple[datetime, dict[str, int]]], fmt: str) -> Chart:
    """Bars per bucket, one segment per key, keys ordered by their total (largest first)."""
    totals: dict[str, int] = {}
    for _, counts in buckets:
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    others = iter(PALETTE * 4)
    css = {k: FIXED.get(k) or next(others) for k in keys}
    peak = max((sum(c.values()) for _, c in buckets), default=0)
    top = _nice(max(peak, 1))
    plot_h, plot_w = HEIGHT - BOTTOM - TOP, WIDTH - LEFT - 8
    slot = plot_w / max(len(buckets), 1)
    bars = []
    for i, (t, counts) in enumerate(buckets):
        y = float(HEIGHT - BOTTOM)
        for key in keys:
            n = counts.get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(Bar(LEFT + i * slot + slot * 0.1, y, slot * 0.8, h, css[key],
                            f"{t.strftime(fmt)}: {key} {n}"))  # fmt: skip
    ticks = [(HEIGHT - BOTTOM - plot_h * f, str(int(top * f))) for f in (0, 0.5, 1)]
    every = max(len(buckets) // 8, 1)
    labels = [
        (LEFT + i * slot + slot / 2, t.strftime(fmt))
        for i, (t, _) in enumerate(buckets)
        if i % every == 0
    ]
    return Chart(WIDTH, HEIGHT, bars, [(k, css[k], totals[k]) for k in keys], ticks, labels, peak)


ROW, GAP, LABEL_W, VALUE_W = 22, 6, 190, 70


@dataclass(frozen=True, slots=True)
class HBar:
    y: float
    width: float
    css: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class HChart:
    """Horizontal bars, one per row, on a common scale: a funnel's stages or ratios per label."""

    width: int
    height: int
    bars: list[HBar]
    left: int = LABEL_W
    row: int = ROW

    @property
    def text_dy(self) -> float:
        return self.row * 0.7


def hbars(rows: Sequence[tuple[str, float, str, str]], top: float) -> HChart:
    """`rows` of (label, value, css class, value as shown), scaled so `top` fills the width."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    scale = plot_w / top if top > 0 else 0.0
    bars = [
        HBar(GAP + i * (ROW + GAP), max(value, 0.0) * scale, css, label, shown)
        for i, (label, value, css, shown) in enumerate(rows)
    ]
    return HChart(WIDTH, GAP + len(rows) * (ROW + GAP), bars)


def funnel(stages: Sequence[tuple[str, int]]) -> HChart:
    """A funnel's stages, each bar against the largest stage, with its share of the first."""
    first = stages[0][1] if stages else 0
    top = max((n for _, n in stages), default=0)
    rows = [
        (label, float(n), PALETTE[i % len(PALETTE)],
         f"{n}" + (f" ({n / first:.0%})" if first and i else ""))
        for i, (label, n) in enumerate(stages)
    ]  # fmt: skip
    return hbars(rows, float(top))


def ratios(rows: Sequence[tuple[str, float | None, str]]) -> HChart:
    """Ratios from 0 to 1 (precision, recall); a missing ratio draws no bar and says `–`."""
    return hbars(
        [(label, value or 0.0, css, "–" if value is None else f"{value:.2f}")
         for label, value, css in rows],
        1.0,
    )  # fmt: skip
