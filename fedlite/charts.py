"""Line charts as inline SVG: labelled axes, a legend, optional reference lines; no scripts, no fonts.

A chart plots values against the round number. ``log=True`` scales y by powers of ten (for byte
counts that differ by orders of magnitude).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 34, 46
AXIS, GRID, INK = "#8a919c", "#e8eaee", "#3a4150"


@dataclass(frozen=True)
class Series:
    """One line of a chart: its legend name, colour and (round, value) points."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


@dataclass(frozen=True)
class Axes:
    """Maps data to pixels: x from ``x0`` to ``x1``, y from ``lo`` to ``hi`` (exponents when ``log``)."""

    x0: float
    x1: float
    lo: float
    hi: float
    log: bool

    def at(self, x: float, y: float) -> tuple[float, float]:
        """Pixel position of the data point (x, y)."""
        value = math.log10(y) if self.log else y
        px = LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (value - self.lo) / (self.hi - self.lo) * (HEIGHT - TOP - BOTTOM)
        return round(px, 1), round(py, 1)

    def y_ticks(self) -> list[float]:
        """Values with a grid line and a label: every power of ten, or five even steps."""
        if self.log:
            return [10.0**e for e in range(int(self.lo), int(self.hi) + 1)]
        return [self.lo + (self.hi - self.lo) * i / 4 for i in range(5)]

    def x_ticks(self) -> range:
        """Whole rounds, at most about ten of them labelled."""
        stride = max(1, math.ceil((self.x1 - self.x0) / 10))
        return range(int(self.x0), int(self.x1) + 1, stride)


def _e(value: object) -> str:
    return html.escape(str(value))


def line_chart(series: Sequence[Series], *, title: str, y_label: str, x_label: str = "round",
               y_range: tuple[float, float] | None = None, log: bool = False,
               y_format: Callable[[float], str] = str, guides: Sequence[tuple[float, str]] = ()) -> str:
    """An SVG chart of ``series``; ``guides`` are dashed horizontal reference lines (value, label)."""
    drawn = [Series(s.name, s.color, [(x, y) for x, y in s.points if not log or y > 0], s.dashed) for s in series]
    points = [p for s in drawn for p in s.points]
    if not points:
        return f"<p class=empty>{_e(title)}: no data.</p>"
    axes = _axes_for(points, y_range, log)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    svg += _frame(axes, y_format, x_label, y_label)
    svg += [_guide(axes, value, label) for value, label in guides if axes.lo <= _scaled(value, log) <= axes.hi]
    svg += [_polyline(axes, line) for line in drawn if line.points]
    svg += _legend(drawn)
    svg.append("</svg>")
    return "\n".join(svg)


def _scaled(value: float, log: bool) -> float:
    return math.log10(value) if log else value


def _axes_for(points: Sequence[tuple[float, float]], y_range: tuple[float, float] | None, log: bool) -> Axes:
    xs = [x for x, _ in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    if y_range is not None:
        return Axes(x0, x1, *y_range, log)
    values = [_scaled(y, log) for _, y in points]
    lo, hi = min(values), max(values)
    if log:
        return Axes(x0, x1, math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1), log)
    return Axes(x0, x1, lo, hi, log) if hi > lo else Axes(x0, x1, lo - 1, hi + 1, log)


def _frame(axes: Axes, y_format: Callable[[float], str], x_label: str, y_label: str) -> list[str]:
    """Grid, tick labels, the x axis and both axis titles."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = []
    for value in axes.y_ticks():
        _, py = axes.at(axes.x0, value)
        out.append(f'<line x1="{LEFT}" y1="{py}" x2="{right}" y2="{py}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py + 4}" text-anchor="end" fill="{INK}">{_e(y_format(value))}</text>')
    for x in axes.x_ticks():
        px, _ = axes.at(x, axes.y_ticks()[0])
        out.append(f'<line x1="{px}" y1="{bottom}" x2="{px}" y2="{bottom + 4}" stroke="{AXIS}"/>')
        out.append(f'<text x="{px}" y="{bottom + 18}" text-anchor="middle" fill="{INK}">{x}</text>')
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{AXIS}"/>')
    out.append(f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle" fill="{INK}">'
               f'{_e(x_label)}</text>')
    middle = (TOP + bottom) / 2
    out.append(f'<text transform="translate(16 {middle}) rotate(-90)" text-anchor="middle" fill="{INK}">'
               f'{_e(y_label)}</text>')
    return out


def _guide(axes: Axes, value: float, label: str) -> str:
    _, py = axes.at(axes.x0, value)
    return (f'<line x1="{LEFT}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}" stroke="{AXIS}" stroke-dasharray="4 4"/>'
            f'<text x="{LEFT + 6}" y="{py - 5}" fill="{AXIS}">{_e(label)}</text>')


def _polyline(axes: Axes, line: Series) -> str:
    coords = " ".join(f"{px},{py}" for px, py in (axes.at(x, y) for x, y in line.points))
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    dots = "".join(f'<circle cx="{px}" cy="{py}" r="2.5" fill="{line.color}"/>'
                   for px, py in (axes.at(x, y) for x, y in line.points)) if len(line.points) <= 40 else ""
    return f'<polyline fill="none" stroke="{line.color}" stroke-width="2"{dash} points="{coords}"/>{dots}'


def _legend(series: Sequence[Series]) -> list[str]:
    """One swatch and name per series, in a row above the plot."""
    out, x = [], LEFT
    for line in series:
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        out.append(f'<line x1="{x}" y1="14" x2="{x + 22}" y2="14" stroke="{line.color}" stroke-width="2"{dash}/>'
                   f'<text x="{x + 28}" y="18" fill="{INK}">{_e(line.name)}</text>')
        x += 40 + 7 * len(line.name)
    return out
