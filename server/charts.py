"""Charts as inline SVG: labelled axes, a legend, optional reference lines; no scripts, no fonts.

A chart plots values against the round number, as lines (:func:`line_chart`) or as bars stacked
series on series (:func:`bar_chart`). Ticks fall on steps of 1, 2, 2.5 or 5 × 10ⁿ (whole numbers
when every value is whole), so tick labels stay short and hundreds of rounds stay readable.
``log=True`` scales y by powers of ten (for byte counts that differ by orders of magnitude).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 34, 46
LEGEND_ROW = 18
AXIS, GRID, INK = "#8a919c", "#e8eaee", "#3a4150"

BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))

Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line (or layer of bars) of a chart: its legend name, colour and (round, value) points."""

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
    whole: bool = False
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP

    def at(self, x: float, y: float) -> tuple[float, float]:
        """Pixel position of the data point (x, y)."""
        value = math.log10(y) if self.log else y
        py = self.height - BOTTOM - (value - self.lo) / (self.hi - self.lo) * (self.height - self.top - BOTTOM)
        return self.x_at(x), round(py, 1)

    def x_at(self, x: float) -> float:
        """Pixel column of round ``x``."""
        return round(LEFT + (x - self.x0) / (self.x1 - self.x0) * (self.width - LEFT - RIGHT), 1)

    def y_step(self) -> float:
        """Distance between two labelled y values (linear axes)."""
        return nice_step(self.hi - self.lo, 4, whole=self.whole)

    def y_ticks(self) -> list[float]:
        """Values with a grid line and a label: every power of ten, or every :meth:`y_step`."""
        if self.log:
            return [10.0**e for e in range(int(self.lo), int(self.hi) + 1)]
        return _multiples(self.lo, self.hi, self.y_step())

    def x_ticks(self) -> list[int]:
        """Labelled rounds: multiples of a whole step, about one per 60 pixels."""
        count = max(2, (self.width - LEFT - RIGHT) // 60)
        return [int(x) for x in _multiples(self.x0, self.x1, nice_step(self.x1 - self.x0, count, whole=True))]


def nice_step(span: float, count: int, *, whole: bool = False) -> float:
    """The smallest step of 1, 2, 2.5 or 5 × 10ⁿ that cuts ``span`` into at most ``count`` parts."""
    raw = span / count if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    steps = (m * power for m in (1, 2, 2.5, 5, 10) if not whole or (m * power).is_integer())
    step = next((s for s in steps if s >= raw * (1 - 1e-9)), 1.0)
    return max(step, 1.0) if whole else step


def _multiples(lo: float, hi: float, step: float) -> list[float]:
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def plain_number(step: float) -> Format:
    """Labels with thousands separators and as many decimals as ``step`` needs (``1,250``, ``0.25``)."""
    decimals = next((d for d in range(12) if abs(round(step, d) - step) <= 1e-9 * step), 12)
    return lambda value: f"{value:,.{decimals}f}"


def format_bytes(count: float) -> str:
    """``1234567`` → ``1.23 MB`` (decimal units)."""
    for unit, size in BYTE_UNITS:
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{int(count)} B"


def byte_ticks(value: float) -> str:
    """A byte count as a short tick label: ``150 kB``, ``1.5 MB``, ``0 B``."""
    unit, size = next(((unit, size) for unit, size in BYTE_UNITS if value >= size), ("B", 1.0))
    return f"{value / size:g} {unit}"


def _e(value: object) -> str:
    return html.escape(str(value))


def line_chart(series: Sequence[Series], *, title: str, y_label: str, x_label: str = "round",
               y_range: tuple[float, float] | None = None, log: bool = False, y_format: Format | None = None,
               guides: Sequence[tuple[float, str]] = (), from_zero: bool = False,
               size: tuple[int, int] = (WIDTH, HEIGHT)) -> str:
    """An SVG chart of ``series``; ``guides`` are dashed horizontal reference lines (value, label)."""
    drawn = [Series(s.name, s.color, [(x, y) for x, y in s.points if not log or y > 0], s.dashed) for s in series]
    points = [p for s in drawn for p in s.points]
    if not points:
        return _empty(title)
    legend, top = _legend(drawn, size[0])
    axes = _axes_for(points, y_range, log, from_zero, bars=False, size=size, top=top)
    body = [_guide(axes, value, label) for value, label in guides if axes.lo <= _scaled(value, log) <= axes.hi]
    body += [_polyline(axes, line) for line in drawn if line.points]
    return _svg(title, axes, y_format, x_label, y_label, body + legend)


def bar_chart(series: Sequence[Series], *, title: str, y_label: str, x_label: str = "round",
              y_format: Format | None = None, size: tuple[int, int] = (WIDTH, HEIGHT)) -> str:
    """An SVG chart of one bar per round, the series stacked in order (the first at the bottom)."""
    stacks: dict[float, float] = {}
    for line in series:
        for x, y in line.points:
            stacks[x] = stacks.get(x, 0.0) + y
    if not stacks:
        return _empty(title)
    legend, top = _legend(series, size[0], boxes=True)
    axes = _axes_for(list(stacks.items()), None, False, True, bars=True, size=size, top=top)
    label = y_format or plain_number(axes.y_step())
    return _svg(title, axes, y_format, x_label, y_label, _bars(axes, series, label) + legend)


def _empty(title: str) -> str:
    return f"<p class=empty>{_e(title)}: no data.</p>"


def _svg(title: str, axes: Axes, y_format: Format | None, x_label: str, y_label: str, body: list[str]) -> str:
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {axes.width} {axes.height}" width="{axes.width}" '
           f'height="{axes.height}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    svg += _frame(axes, y_format or plain_number(axes.y_step()), x_label, y_label)
    svg += body
    svg.append("</svg>")
    return "\n".join(svg)


def _scaled(value: float, log: bool) -> float:
    return math.log10(value) if log else value


def _axes_for(points: Sequence[tuple[float, float]], y_range: tuple[float, float] | None, log: bool,
              from_zero: bool, *, bars: bool, size: tuple[int, int], top: int) -> Axes:
    """Axes that hold ``points``, x padded by half a round for bars or a single round, y ending on ticks."""
    xs = [x for x, _ in points]
    pad = 0.5 if bars or min(xs) == max(xs) else 0.0
    x0, x1 = min(xs) - pad, max(xs) + pad
    whole = all(float(y).is_integer() for _, y in points)
    frame = dict(whole=whole, width=size[0], height=size[1], top=top)
    if y_range is not None:
        return Axes(x0, x1, *y_range, log, **frame)
    values = [_scaled(y, log) for _, y in points] + ([0.0] if from_zero and not log else [])
    lo, hi = min(values), max(values)
    if log:
        return Axes(x0, x1, math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1), log, **frame)
    if hi == lo:
        spread = abs(lo) * 0.1 or 1.0
        lo, hi = (lo if from_zero else lo - spread), hi + spread
    step = nice_step(hi - lo, 4, whole=whole)
    return Axes(x0, x1, math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, log, **frame)


def _frame(axes: Axes, y_format: Format, x_label: str, y_label: str) -> list[str]:
    """Grid, tick labels, the x axis and both axis titles."""
    bottom, right = axes.height - BOTTOM, axes.width - RIGHT
    out = []
    for value in axes.y_ticks():
        _, py = axes.at(axes.x0, value)
        out.append(f'<line x1="{LEFT}" y1="{py}" x2="{right}" y2="{py}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py + 4}" text-anchor="end" fill="{INK}">{_e(y_format(value))}</text>')
    for x in axes.x_ticks():
        px = axes.x_at(x)
        out.append(f'<line x1="{px}" y1="{bottom}" x2="{px}" y2="{bottom + 4}" stroke="{AXIS}"/>')
        out.append(f'<text x="{px}" y="{bottom + 18}" text-anchor="middle" fill="{INK}">{x}</text>')
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>')
    out.append(f'<line x1="{LEFT}" y1="{axes.top}" x2="{LEFT}" y2="{bottom}" stroke="{AXIS}"/>')
    out.append(f'<text x="{(LEFT + right) / 2}" y="{axes.height - 8}" text-anchor="middle" fill="{INK}">'
               f'{_e(x_label)}</text>')
    middle = (axes.top + bottom) / 2
    out.append(f'<text transform="translate(16 {middle}) rotate(-90)" text-anchor="middle" fill="{INK}">'
               f'{_e(y_label)}</text>')
    return out


def _guide(axes: Axes, value: float, label: str) -> str:
    _, py = axes.at(axes.x0, value)
    return (f'<line x1="{LEFT}" y1="{py}" x2="{axes.width - RIGHT}" y2="{py}" stroke="{AXIS}" '
            f'stroke-dasharray="4 4"/><text x="{LEFT + 6}" y="{py - 5}" fill="{AXIS}">{_e(label)}</text>')


def _polyline(axes: Axes, line: Series) -> str:
    coords = " ".join(f"{px},{py}" for px, py in (axes.at(x, y) for x, y in line.points))
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    dots = "".join(f'<circle cx="{px}" cy="{py}" r="2.5" fill="{line.color}"/>'
                   for px, py in (axes.at(x, y) for x, y in line.points)) if len(line.points) <= 40 else ""
    return f'<polyline fill="none" stroke="{line.color}" stroke-width="2"{dash} points="{coords}"/>{dots}'


def _bars(axes: Axes, series: Sequence[Series], label: Format) -> list[str]:
    """One rectangle per non-zero value, each on top of the series before it in the same round."""
    slot = (axes.width - LEFT - RIGHT) / (axes.x1 - axes.x0)
    width = min(slot * 0.7, 36.0) if slot >= 4 else slot
    base: dict[float, float] = {}
    out = []
    for line in series:
        for x, y in line.points:
            below = base.get(x, 0.0)
            base[x] = below + y
            if y > 0:
                (px, top), (_, bottom) = axes.at(x, below + y), axes.at(x, below)
                out.append(f'<rect x="{px - width / 2:.1f}" y="{top}" width="{width:.1f}" height="{bottom - top:.1f}" '
                           f'fill="{line.color}"><title>round {x:g}, {_e(line.name)}: {_e(label(y))}</title></rect>')
    return out


def _legend(series: Sequence[Series], width: int, boxes: bool = False) -> tuple[list[str], int]:
    """One swatch (a line, or a box for bars) and name per series, in rows above the plot; and the
    pixel row where the plot then starts."""
    out, x, y = [], LEFT, 14
    for line in series:
        advance = 40 + 7 * len(line.name)
        if x > LEFT and x + advance > width - RIGHT:
            x, y = LEFT, y + LEGEND_ROW
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        swatch = (f'<rect x="{x + 6}" y="{y - 6}" width="12" height="12" fill="{line.color}"/>' if boxes else
                  f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{line.color}" stroke-width="2"{dash}/>')
        out.append(f'{swatch}<text x="{x + 28}" y="{y + 4}" fill="{INK}">{_e(line.name)}</text>')
        x += advance
    return out, TOP + y - 14
