"""The operator dashboard: one self-contained HTML page with inline SVG plots (no external assets)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 420, 160, 30


def svg_chart(title: str, xs: Sequence[float], ys: Sequence[float | None], *, bars: bool = False) -> str:
    """A small line (or bar) chart of ``ys`` over ``xs`` as an inline SVG element."""
    points = [(x, y) for x, y in zip(xs, ys) if y is not None]
    head = f'<figure><figcaption>{html.escape(title)}</figcaption>'
    if not points:
        return head + "<p class=empty>no data yet</p></figure>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-12)
    y0 = min(0.0, min(p[1] for p in points))

    def sx(x: float) -> float:
        return PAD + (x - x0) / ((x1 - x0) or 1) * (WIDTH - 2 * PAD)

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / ((y1 - y0) or 1) * (HEIGHT - 2 * PAD)

    if bars:
        width = max(2.0, (WIDTH - 2 * PAD) / max(len(points), 1) * 0.7)
        marks = "".join(f'<rect x="{sx(x) - width / 2:.1f}" y="{sy(y):.1f}" width="{width:.1f}" '
                        f'height="{sy(y0) - sy(y):.1f}"/>' for x, y in points)
    else:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        marks = f'<polyline fill="none" points="{path}"/>'
    axes = (f'<text x="2" y="{PAD - 8}">{y1:.4g}</text><text x="2" y="{HEIGHT - PAD}">{y0:.4g}</text>'
            f'<text x="{PAD}" y="{HEIGHT - 8}">round {x0:g}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{x1:g}</text>')
    return (head + f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
            f'{axes}{marks}</svg></figure>')


def _table(rounds: list[dict[str, Any]], evaluations: dict[int, dict[str, float]]) -> str:
    head = "<tr><th>round</th><th>outcome</th><th>version</th><th>accepted</th><th>rejected</th>" \
           "<th>bytes</th><th>eval accuracy</th><th>eval loss</th></tr>"
    rows = []
    for r in reversed(rounds[-50:]):
        ev = evaluations.get(r["round"], {})
        rejected = ", ".join(f"{k}: {v}" for k, v in sorted(r.get("rejected", {}).items())) or "–"
        cells = [r["round"], r.get("outcome"), r.get("version"), r.get("accepted"), rejected, r.get("bytes"),
                 _fmt(ev.get("accuracy")), _fmt(ev.get("loss"))]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def render_dashboard(rounds: list[dict[str, Any]], engine: Any) -> str:
    """The dashboard page for the finished ``rounds`` and the engine's live state."""
    evaluations = engine.history.evaluations if getattr(engine, "history", None) else {}
    xs = [r["round"] for r in rounds]
    reasons = sorted({reason for r in rounds for reason in r.get("rejected", {})})
    charts = [
        svg_chart("accepted updates per round", xs, [r.get("accepted") for r in rounds], bars=True),
        svg_chart("bytes received per round", xs, [r.get("bytes") for r in rounds], bars=True),
        svg_chart("held-out accuracy", xs, [evaluations.get(x, {}).get("accuracy") for x in xs]),
        svg_chart("held-out loss", xs, [evaluations.get(x, {}).get("loss") for x in xs]),
        svg_chart("device training loss (reported)", xs, [r.get("train_metrics", {}).get("loss") for r in rounds]),
    ] + [svg_chart(f"rejected: {reason}", xs, [r.get("rejected", {}).get(reason, 0) for r in rounds], bars=True)
         for reason in reasons]
    current = engine.rounds.coordinator.round
    live = (f"<p>round <b>{current.number}</b> ({current.state}), version <b>{engine.rounds.version}</b>, "
            f"accepted <b>{current.accepted}</b> of {engine.config.rounds.target}, "
            f"mode {html.escape(engine.config.rounds.mode)}</p>")
    style = ("body{font-family:sans-serif;margin:1.5em}figure{display:inline-block;margin:.5em}"
             "svg{background:#fafafa;border:1px solid #ddd}polyline{stroke:#1565c0;stroke-width:2}"
             "rect{fill:#1565c0}text{font-size:10px;fill:#555}table{border-collapse:collapse}"
             "td,th{border:1px solid #ddd;padding:2px 6px;font-size:12px}")
    return (f"<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>"
            f"<title>FedLite dashboard</title><style>{style}</style></head><body><h1>FedLite</h1>{live}"
            f"{''.join(charts)}<h2>Rounds</h2>{_table(rounds, evaluations)}</body></html>")
