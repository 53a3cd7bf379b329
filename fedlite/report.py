"""The report of a federated run: ``report.json`` and a self-contained ``report.html``.

The page leads with what a reader wants to know (final accuracy, rounds, devices, time; bytes
sent against float32 updates), then the settings, plots of accuracy and uplink bytes per round,
the table of rounds and every setting. Plots are inline SVG and styles inline CSS: the page loads
nothing from anywhere, so it can be opened from disk, attached to a ticket or archived.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fedlite.progress import format_bytes
from fedlite.runs import RoundRecord
from server.charts import Series, line_chart

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;max-width:800px;
 margin:2rem auto;padding:0 1rem}
h1{font-size:1.7rem;margin:0}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.lead{color:#5a6270;margin:.2rem 0 1.2rem}
.cards{display:grid;grid-template-columns:1.4fr 1fr 1fr 1fr;gap:.7rem}
.card{border:1px solid #e1e4e9;border-radius:8px;padding:.6rem .9rem}
.card b{display:block;font-size:1.8rem;line-height:1.2;font-variant-numeric:tabular-nums;white-space:nowrap}
.card span{color:#5a6270;font-size:.85rem}
.uplink{margin-top:.7rem}.uplink .card b{font-size:1.45rem}.uplink .card:nth-child(3) b{color:#1a7f37}
.note{color:#5a6270;font-size:.85rem;margin:.5rem 0 0}
table.rounds{max-width:620px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .7rem;border-bottom:1px solid #eceef1;text-align:right}
th{font-weight:600;color:#5a6270}
table.settings td{text-align:left}table.settings td:first-child{color:#5a6270;width:45%}
svg{display:block;max-width:100%;height:auto;margin:.3rem 0 1rem}
"""
SETTING_LABELS = {
    "devices": "devices", "rounds": "rounds", "codec": "update codec", "strategy": "server strategy",
    "strategy_params": "strategy overrides", "alpha": "label skew: Dirichlet α", "seed": "seed",
    "epochs": "local epochs per round", "mode": "round mode", "round_size": "updates per round",
    "over_selection": "over-selection", "min_quorum": "fewest updates to publish", "deadline_s": "round deadline (s)",
    "max_staleness": "oldest accepted base (async, versions)", "dropout": "dropout probability",
    "stragglers": "straggler fraction", "slowdown": "straggler slowdown", "examples_per_device": "examples per device",
}


def write_report(directory: Path, *, title: str, lead: str, summary: Mapping[str, Any], settings: Mapping[str, Any],
                 rounds: Sequence[RoundRecord]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory``; their paths (html, json).

    ``summary`` holds the keys of :func:`fedlite.runs.summarise` (plus, optionally,
    ``initial_accuracy`` and ``uploads``); ``lead`` is one sentence on what ran.
    """
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / "report.json", directory / "report.html"
    document = {"summary": dict(summary), "settings": dict(settings), "rounds": [r.to_json() for r in rounds]}
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(title, lead, summary, settings, rounds), encoding="utf-8")
    return html_path, json_path


def render_html(title: str, lead: str, summary: Mapping[str, Any], settings: Mapping[str, Any],
                rounds: Sequence[RoundRecord]) -> str:
    """The report page."""
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f'<meta name=viewport content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{_e(title)}</h1><p class=lead>{_e(lead)}<br>{_e(settings_line(settings))}</p>",
             headline(summary), uplink(summary), "<h2>Accuracy</h2>",
             accuracy_chart(rounds, summary.get("initial_accuracy")),
             "<h2>Uplink</h2>", bytes_chart(rounds, summary["fp32_update_bytes"]),
             "<h2>Rounds</h2>", rounds_table(rounds),
             "<h2>Settings</h2>", settings_table(settings), "</body></html>\n"]
    return "\n".join(parts)


def settings_line(settings: Mapping[str, Any]) -> str:
    """``codec rot-randk50-1bit · strategy fedavg · Dirichlet α 0.5 · seed 0 · 5 local epochs per round``."""
    strategy = str(settings.get("strategy", "-"))
    if settings.get("strategy_params"):
        strategy += " (" + ", ".join(f"{k} {v:g}" for k, v in settings["strategy_params"].items()) + ")"
    return (f"codec {settings.get('codec', '-')} · strategy {strategy} · "
            f"Dirichlet α {settings.get('alpha', '-')} · seed {settings.get('seed', '-')} · "
            f"{settings.get('epochs', '-')} local epochs per round")


def headline(summary: Mapping[str, Any]) -> str:
    """Four cards: final accuracy (with where it started and when it reached 90%), rounds, devices, time."""
    notes = []
    if summary.get("initial_accuracy") is not None:
        notes.append(f"from {_percent(summary['initial_accuracy'], 1)} untrained")
    if summary.get("rounds_to_90"):
        notes.append(f"90% at round {summary['rounds_to_90']}")
    accuracy_note = "held-out accuracy" + (f" ({', '.join(notes)})" if notes else "")
    cards = [(_percent(summary.get("final_accuracy"), 1), accuracy_note), (summary["rounds"], "rounds"),
             (summary["devices"], "devices"), (f"{summary['seconds']:.0f} s", "wall time")]
    return _cards(cards)


def uplink(summary: Mapping[str, Any]) -> str:
    """Bytes sent against float32 updates, the ratio and bits per parameter; a note on the updates."""
    sent, fp32, updates = summary["uplink_bytes"], summary["fp32_uplink_bytes"], summary["accepted_updates"]
    if not updates:
        return "<p class=note>Uplink: no update was accepted.</p>"
    fp32_bits = 8 * summary["fp32_update_bytes"] / summary["trainable_parameters"]
    cards = [(format_bytes(sent), "uplink, all updates"), (format_bytes(fp32), "the same updates as float32"),
             (f"{fp32 / sent:.0f}× less" if sent else "-", "than float32"),
             (f"{summary['bits_per_param']:.2f}", f"bits per parameter (float32: {fp32_bits:.1f})")]
    note = (f"{updates:,} accepted updates of {format_bytes(summary['uplink_bytes_per_update'])} on average, every "
            f"byte counted (headers, scales, checksums); the model has {summary['trainable_parameters']:,} trainable "
            "parameters.")
    if summary.get("uploads"):
        note += " Uploads: " + ", ".join(f"{name.replace('_', ' ')} {count:,}"
                                         for name, count in sorted(summary["uploads"].items())) + "."
    return _cards(cards, "uplink") + f"<p class=note>{_e(note)}</p>"


def _cards(cards: Sequence[tuple[object, str]], css: str = "") -> str:
    return (f"<div class='cards {css}'>" + "".join(f"<div class=card><b>{_e(value)}</b><span>{_e(label)}</span></div>"
                                                  for value, label in cards) + "</div>")


def accuracy_chart(rounds: Sequence[RoundRecord], initial: float | None = None) -> str:
    """Held-out accuracy of each new global model (from round 0, the untrained model, when ``initial``
    is known), 0 to 100%, with the 90% line."""
    scored = [(0, 100 * initial)] if initial is not None else []
    scored += [(r.round, 100 * r.accuracy) for r in rounds if r.accuracy is not None]
    return line_chart([Series("global model on the held-out test set", "#1f6fb5", scored)],
                      title="Held-out accuracy after each round", y_label="accuracy (%)", y_range=(0.0, 100.0),
                      y_format=lambda v: f"{v:.0f}%", guides=[(90.0, "90%")])


def bytes_chart(rounds: Sequence[RoundRecord], fp32_update_bytes: int) -> str:
    """Bytes uploaded per round, against the same updates as float32, on a log scale."""
    baseline = [(r.round, r.accepted * fp32_update_bytes) for r in rounds if r.accepted > 0]
    sent = [(r.round, r.uplink_bytes) for r in rounds if r.uplink_bytes > 0]
    return line_chart([Series("sent", "#c8302c", sent), Series("as float32 updates", "#8a919c", baseline, dashed=True)],
                      title="Uplink bytes per round", y_label="bytes per round (log scale)", log=True,
                      y_format=lambda v: format_bytes(v).replace(".00", ""))


def rounds_table(rounds: Sequence[RoundRecord]) -> str:
    """Round, participants (or what became of the round), accuracy, loss, uplink."""
    rows = [(r.round, r.participants if r.outcome == "published" else r.outcome, _percent(r.accuracy),
             "-" if r.loss is None else f"{r.loss:.3f}", format_bytes(r.uplink_bytes)) for r in rounds]
    return _table(("round", "participants", "accuracy", "loss", "uplink"), rows, css="rounds")


def settings_table(settings: Mapping[str, Any]) -> str:
    """Every setting, with a readable name."""
    rows = [(SETTING_LABELS.get(key, key.replace("_", " ")), _setting(value)) for key, value in settings.items()]
    return _table((), rows, css="settings")


def _setting(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} = {v:g}" for k, v in value.items()) or "none"
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], css: str = "") -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table class='{css}'>{head}{body}</table>"


def _e(value: object) -> str:
    return html.escape(str(value))


def _percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}%}"
