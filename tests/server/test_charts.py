"""Inline SVG charts: round-number ticks, whole-number counts, stacked bars, legends, human units."""

from __future__ import annotations

import re

import pytest

from server.charts import Series, bar_chart, byte_ticks, format_bytes, line_chart, nice_step, plain_number
from tests.support.pages import polylines, visible_text


def x_labels(svg: str) -> list[int]:
    """The round numbers under the x axis (tick labels are centred)."""
    return [int(text) for text in re.findall(r'<text [^>]*text-anchor="middle" fill="[^"]*">(\d+)</text>', svg)]


def y_labels(svg: str) -> list[str]:
    return re.findall(r'<text [^>]*text-anchor="end" fill="[^"]*">([^<]*)</text>', svg)


def bars(svg: str, color: str) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of every bar of ``color``."""
    found = re.findall(rf'<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)" fill="{color}">', svg)
    return [tuple(map(float, bar)) for bar in found]


@pytest.mark.parametrize(("span", "count", "whole", "step"), [
    (100, 4, False, 25), (3, 4, True, 1), (2, 4, True, 1), (2, 4, False, 0.5), (0.3, 4, False, 0.1),
    (237, 6, True, 50), (140_000, 4, True, 50_000), (0, 4, False, 1)])
def test_steps_are_one_two_two_and_a_half_or_five_times_a_power_of_ten(span, count, whole, step) -> None:
    assert nice_step(span, count, whole=whole) == pytest.approx(step)


def test_numbers_and_bytes_read_naturally() -> None:
    assert [plain_number(0.25)(v) for v in (0, 0.5, 1.25)] == ["0.00", "0.50", "1.25"]
    assert plain_number(500)(12_500) == "12,500"
    assert [byte_ticks(v) for v in (0, 500, 50_000, 150_000, 1_500_000)] == ["0 B", "500 B", "50 kB", "150 kB",
                                                                             "1.5 MB"]
    assert [format_bytes(v) for v in (999, 140_031, 2e9)] == ["999 B", "140.03 kB", "2.00 GB"]


def test_counts_get_whole_number_ticks_from_zero() -> None:
    svg = line_chart([Series("accepted", "#00f", [(1, 3), (2, 2), (3, 3)])], title="Participants", y_label="devices",
                     from_zero=True)
    assert y_labels(svg) == ["0", "1", "2", "3"]
    assert x_labels(svg) == [1, 2, 3] and {"devices", "round", "accepted"} <= set(visible_text(svg))


def test_a_single_round_sits_in_the_middle_under_its_own_label() -> None:
    svg = line_chart([Series("loss", "#00f", [(7, 0.5)])], title="Loss", y_label="loss", size=(400, 200))
    ((point,),) = polylines(svg)
    assert x_labels(svg) == [7] and point[0] == pytest.approx(84 + (400 - 84 - 16) / 2)
    assert all(re.fullmatch(r"0\.\d+", label) for label in y_labels(svg))  # 0.45 … 0.55, not 0.4500000001


def test_hundreds_of_rounds_keep_few_evenly_spaced_labels_and_every_point() -> None:
    points = [(n, 1 / n) for n in range(1, 301)]
    svg = line_chart([Series("loss", "#00f", points)], title="Loss", y_label="loss", size=(470, 250))
    labels = x_labels(svg)
    assert labels == [50, 100, 150, 200, 250, 300]
    (line,) = polylines(svg)
    assert len(line) == 300 and "<circle" not in svg  # no dots when they would blur into a line


def test_bars_stack_series_in_order_and_are_evenly_spaced() -> None:
    lower = Series("malformed", "#c00", [(1, 2), (2, 0), (3, 1), (4, 1)])
    upper = Series("round closed", "#0c0", [(1, 1), (2, 0), (3, 0), (4, 2)])
    svg = bar_chart([lower, upper], title="Rejected", y_label="updates")
    malformed, round_closed = bars(svg, "#c00"), bars(svg, "#0c0")
    assert len(malformed) == 3 and len(round_closed) == 2  # zeros draw nothing
    centres = [x + width / 2 for x, _, width, _ in malformed]  # rounds 1, 3, 4
    assert centres[1] - centres[0] == pytest.approx(2 * (centres[2] - centres[1]), abs=0.2)
    (_, top, _, height), first_malformed = round_closed[0], malformed[0]
    assert top + height == pytest.approx(first_malformed[1], abs=0.2)  # round 1: round closed sits on malformed
    assert y_labels(svg) == ["0", "1", "2", "3"] and x_labels(svg) == [1, 2, 3, 4]
    assert {"malformed", "round closed", "updates"} <= set(visible_text(svg))
    assert "round 4, round closed: 2" in svg  # each bar says what it is on hover


def test_a_long_legend_wraps_and_pushes_the_plot_down() -> None:
    names = [f"reason number {i}" for i in range(6)]
    series = [Series(name, "#c00", [(1, 1)]) for name in names]
    svg = bar_chart(series, title="Rejected", y_label="updates", size=(470, 250))
    assert set(names) <= set(visible_text(svg))
    rows = sorted({float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" fill="[^"]*">reason', svg)})
    assert len(rows) > 1
    axis_top = float(re.search(r'<line x1="84" y1="([\d.]+)" x2="84"', svg).group(1))
    assert axis_top > rows[-1]


def test_a_chart_without_data_says_so() -> None:
    assert "no data" in line_chart([Series("sent", "#000", [(1, 0.0)])], title="Bytes", y_label="bytes", log=True)
    assert "no data" in line_chart([Series("model", "#000", [])], title="Accuracy", y_label="%")
    assert "no data" in bar_chart([Series("bytes", "#000", [])], title="Bytes", y_label="bytes")


def test_names_are_escaped() -> None:
    svg = line_chart([Series("<b>&", "#000", [(1, 1.0), (2, 2.0)])], title="a<b", y_label="y<")
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg and 'aria-label="a&lt;b"' in svg
