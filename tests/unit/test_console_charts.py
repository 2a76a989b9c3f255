"""The console's horizontal bar charts: a funnel's stages against its largest, with shares of
the first stage, and ratios on a fixed 0-1 scale where a missing ratio draws nothing."""

from __future__ import annotations

from api.console.chart import funnel, ratios


def test_a_funnel_scales_to_its_largest_stage_and_shares_the_first() -> None:
    chart = funnel([("warnings shown", 4), ("cancelled", 1), ("posts published", 8)])
    shown, cancelled, published = chart.bars
    assert (shown.value, cancelled.value, published.value) == ("4", "1 (25%)", "8 (200%)")
    assert published.width == 2 * shown.width == 8 * cancelled.width
    assert [b.y for b in chart.bars] == sorted(b.y for b in chart.bars)
    assert chart.height > published.y + chart.row


def test_an_empty_funnel_draws_no_bar_width() -> None:
    chart = funnel([("warnings shown", 0), ("cancelled", 0)])
    assert [(b.width, b.value) for b in chart.bars] == [(0.0, "0"), (0.0, "0")]


def test_ratios_share_one_scale_and_say_when_unknown() -> None:
    chart = ratios([("toxic precision", None, "c-0"), ("toxic recall", 0.5, "c-1")])
    unknown, half = chart.bars
    assert (unknown.width, unknown.value) == (0.0, "–")
    assert half.value == "0.50"
    assert ratios([("x", 1.0, "c-0")]).bars[0].width == 2 * half.width
