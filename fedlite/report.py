"""The report of a federated run: ``report.json`` and a self-contained ``report.html``.

The HTML page draws its plots (held-out accuracy and uplink bytes per round) as inline SVG and
loads nothing from anywhere, so it can be opened from disk, attached to a ticket or archived.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedlite.progress import format_bytes
from fedlite.runs import RoundRecord

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 40
STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}
th{text-align:left}svg{display:block;margin:1em 0}text{font:12px system-ui,sans-serif;fill:#333}"""


@dataclass(frozen=True)
class Series:
    """One line of a chart: its legend name, colour and (x, y) points."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]


def write_report(directory: Path, *, title: str, summary: Mapping[str, Any], settings: Mapping[str, Any],
                 rounds: Sequence[RoundRecord], fp32_update_bytes: int) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory``; their paths (html, json)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / "report.json", directory / "report.html"
    document = {"summary": dict(summary), "settings": dict(settings), "rounds": [r.to_json() for r in rounds]}
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(title, summary, settings, rounds, fp32_update_bytes), encoding="utf-8")
    return html_path, json_path


def render_html(title: str, summary: Mapping[str, Any], settings: Mapping[str, Any],
                rounds: Sequence[RoundRecord], fp32_update_bytes: int) -> str:
    """The report page."""
    scored = [(r.round, 100 * r.accuracy) for r in rounds if r.accuracy is not None]
    sent = [(r.round, r.uplink_bytes) for r in rounds if r.uplink_bytes > 0]
    baseline = [(r.round, r.accepted * fp32_update_bytes) for r in rounds if r.accepted > 0]
    accuracy = line_chart("Held-out accuracy after each round (%)", [Series("global model", "#1f77b4", scored)],
                          y_range=(0.0, 100.0), y_format=lambda v: f"{v:.0f}")
    uplink = line_chart("Uplink bytes per round (log scale)",
                        [Series("as float32 updates", "#aaaaaa", baseline), Series("sent", "#d62728", sent)],
                        log=True, y_format=format_bytes)
    round_rows = [(r.round, r.outcome, r.participants, _percent(r.accuracy), _number(r.loss),
                   format_bytes(r.uplink_bytes)) for r in rounds]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>",
             _table(list(summary.items())), accuracy, uplink, "<h2>Rounds</h2>",
             _table(round_rows, ("round", "outcome", "participants", "accuracy", "loss", "uplink")),
             "<h2>Settings</h2>", _table(list(settings.items())), "</body></html>\n"]
    return "\n".join(parts)


def _e(value: object) -> str:
    return html.escape(str(value))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _table(rows: Sequence[Sequence[object]], header: Sequence[str] = ()) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + f"<th>{_e(row[0])}</th>" + "".join(f"<td>{_e(c)}</td>" for c in row[1:]) + "</tr>"
                   for row in rows)
    return f"<table>{head}{body}</table>"


def line_chart(title: str, series: Sequence[Series], *, y_range: tuple[float, float] | None = None,
               log: bool = False, y_format: Callable[[float], str] = str) -> str:
    """An SVG line chart of ``series`` against the round number; ``log`` scales y by powers of ten."""
    points = [p for s in series for p in s.points if not log or p[1] > 0]
    if not points:
        return f"<p>{_e(title)}: no data yet.</p>"
    xs = [x for x, _ in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    scale = math.log10 if log else float
    lo, hi = y_range or _y_bounds([scale(y) for _, y in points], log)

    def at(x: float, y: float) -> tuple[float, float]:
        px = LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (scale(y) - lo) / (hi - lo) * (HEIGHT - TOP - BOTTOM)
        return round(px, 1), round(py, 1)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
           f'<title>{_e(title)}</title><text x="{LEFT}" y="18">{_e(title)}</text>']
    svg += _axes(x0, x1, lo, hi, log, y_format, at)
    for index, line in enumerate(series):
        coords = " ".join(f"{px},{py}" for px, py in (at(x, y) for x, y in line.points if not log or y > 0))
        svg.append(f'<polyline fill="none" stroke="{line.color}" stroke-width="2" points="{coords}"/>')
        legend_y = TOP + 14 * index
        svg.append(f'<text x="{WIDTH - RIGHT - 150}" y="{legend_y}" style="fill:{line.color}">{_e(line.name)}</text>')
    svg.append("</svg>")
    return "\n".join(svg)


def _y_bounds(values: Sequence[float], log: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if log:
        return math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1)
    return (lo, hi) if hi > lo else (lo - 1, hi + 1)


def _axes(x0: float, x1: float, lo: float, hi: float, log: bool, y_format: Callable[[float], str],
          at: Callable[[float, float], tuple[float, float]]) -> list[str]:
    unscale = (lambda v: 10.0**v) if log else (lambda v: v)
    steps = range(int(lo), int(hi) + 1) if log else [lo + (hi - lo) * i / 4 for i in range(5)]
    out = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#888"/>']
    for step in steps:
        _, py = at(x0, unscale(step))
        out.append(f'<line x1="{LEFT}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py + 4}" text-anchor="end">{_e(y_format(unscale(step)))}</text>')
    stride = max(1, math.ceil((x1 - x0) / 10))
    for x in range(int(x0), int(x1) + 1, stride):
        px, _ = at(x, unscale(lo))
        out.append(f'<text x="{px}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{x}</text>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">round</text>')
    return out
