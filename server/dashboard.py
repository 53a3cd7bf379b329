"""The operator dashboard at ``GET /dashboard``: one self-contained page (inline SVG and CSS, no scripts).

A header with the live state (round, version, accepted updates, devices, settings), a plot per
round quantity, and the table of recent rounds. It is built from what the server already keeps:
the ledger's finished rounds with their stats, the held-out evaluations held in memory, and two
counting queries (devices enrolled, tasks handed out per round). The page reloads itself every
``REFRESH_S`` seconds.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.charts import Series, bar_chart, byte_ticks, format_bytes, line_chart

REFRESH_S = 10
TABLE_ROWS = 50
PLOT_SIZE = (470, 250)
BLUE, GREY, GREEN = "#1f6fb5", "#8a919c", "#1a7f37"
REASON_COLORS = ("#c8302c", "#e08a1e", "#7b4fb0", "#2a9d8f", "#b5477a", "#6b7a2a", "#3d5a80", "#8a5a44")
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;max-width:980px;
 margin:1.2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}h3{font-size:.95rem;margin:0 0 .2rem}
.lead,.note,.empty{color:#5a6270}.lead{margin:.1rem 0 .9rem}.note{font-size:.85rem;margin:.4rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:.6rem}
.card{border:1px solid #e1e4e9;border-radius:8px;padding:.5rem .8rem}
.card b{display:block;font-size:1.5rem;line-height:1.2;font-variant-numeric:tabular-nums;white-space:nowrap}
.card span{color:#5a6270;font-size:.8rem}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:.8rem}
.plot{border:1px solid #e1e4e9;border-radius:8px;padding:.6rem .7rem;min-height:200px}
.plot .empty{margin:3.5rem 0;text-align:center}
svg{display:block;max-width:100%;height:auto;font-size:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:.85rem}
th,td{padding:.2rem .4rem;border-bottom:1px solid #eceef1;text-align:right;white-space:nowrap}
th{font-weight:600;color:#5a6270;white-space:normal;vertical-align:bottom}
th:nth-child(2),td:nth-child(2){text-align:left}
th:nth-child(6),td:nth-child(6){text-align:left;white-space:normal;min-width:9em}
.rounds{overflow-x:auto}
"""

Round = Mapping[str, Any]


@dataclass(frozen=True)
class Status:
    """The live state and settings shown in the header."""

    round: int
    state: str
    version: int
    mode: str
    accepted: int
    target: int
    training: int
    devices: int
    codec: str
    strategy: str
    model: str
    evaluation: bool
    epsilon: float | None = None
    delta: float | None = None


def render_dashboard(rounds: list[dict[str, Any]], engine: Any) -> str:
    """The dashboard page for the finished ``rounds`` (oldest first) and the engine's live state."""
    evaluations = engine.history.evaluations if getattr(engine, "history", None) else {}
    return render_page(status_of(engine), rounds, evaluations, selected_per_round(engine.ledger, rounds),
                       now=time.time())


def status_of(engine: Any) -> Status:
    """The header's facts, read from the engine's memory and one count in the ledger."""
    config, driver = engine.config, engine.rounds
    current = driver.coordinator.round
    dp = config.aggregation.dp
    return Status(round=current.number, state="finished" if driver.coordinator.finished else current.state,
                  version=driver.version, mode=config.rounds.mode, accepted=current.accepted,
                  target=config.rounds.target, training=len(driver.coordinator.outstanding),
                  devices=engine.ledger.query("SELECT COUNT(*) FROM devices WHERE revoked = 0")[0][0],
                  codec=config.training.codec, strategy=_strategy(config.aggregation),
                  model=engine.manifest.model_id, evaluation=config.eval_data is not None,
                  epsilon=driver.aggregator.epsilon(), delta=dp.target_delta if dp else None)


def _strategy(aggregation: Any) -> str:
    params = ", ".join(f"{k} {v:g}" for k, v in sorted(aggregation.strategy_params.items()))
    text = aggregation.strategy + (f" ({params})" if params else "")
    return text if aggregation.aggregator == "mean" else f"{text}, {aggregation.aggregator.replace('_', ' ')}"


def selected_per_round(ledger: Any, rounds: Sequence[Round]) -> dict[int, int]:
    """How many tasks each of ``rounds`` handed out. A task's deadline is after its round opened, so
    the deadline index bounds the scan to the tasks of the rounds shown."""
    if not rounds:
        return {}
    sql = ("SELECT round, COUNT(*) FROM tasks WHERE deadline >= ? AND round BETWEEN ? AND ? GROUP BY round")
    return dict(ledger.query(sql, (rounds[0]["opened_at"], rounds[0]["round"], rounds[-1]["round"])))


def render_page(status: Status, rounds: Sequence[Round], evaluations: Mapping[int, Mapping[str, float]],
                selected: Mapping[int, int], *, now: float) -> str:
    """The whole page."""
    return "\n".join([
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content={REFRESH_S}>"
        f'<meta name=viewport content="width=device-width,initial-scale=1"><title>FedLite round {status.round}'
        f"</title><style>{STYLE}</style></head><body>", header(status, evaluations, now),
        "<h2>Per round</h2>", plots(status, rounds, _in_view(evaluations, rounds), selected),
        "<h2>Rounds</h2>", rounds_table(rounds, evaluations, selected), "</body></html>\n"])


def _in_view(evaluations: Mapping[int, Mapping[str, float]], rounds: Sequence[Round]) -> dict[int, Any]:
    """The evaluations of the models the shown rounds started from and produced."""
    first = rounds[0]["round"] - 1 if rounds else 0
    return {number: evaluation for number, evaluation in evaluations.items() if number >= first}


def header(status: Status, evaluations: Mapping[int, Mapping[str, float]], now: float) -> str:
    """Title, settings line, and cards for the live state."""
    settings = (f"model {status.model} · mode {status.mode} · codec {status.codec} · strategy {status.strategy} · "
                f"held-out evaluation {'on' if status.evaluation else 'off'}")
    cards = [(status.round, f"round · {status.state}"), (status.version, "global model version"),
             (f"{status.accepted} / {status.target}", f"updates accepted / target · {status.training} training"),
             (f"{status.devices:,}", "devices enrolled")]
    if evaluations:
        latest = max(evaluations)
        model = f"after round {latest}" if latest else "of the initial model"
        cards.append((_percent(evaluations[latest].get("accuracy")), f"held-out accuracy {model}"))
    if status.epsilon is not None:
        cards.append((f"ε {status.epsilon:.3g}", f"privacy spent (δ = {_small(status.delta)})"))
    updated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    return (f"<h1>FedLite server</h1><p class=lead>{_e(settings)}</p>"
            + "<div class=cards>" + "".join(f"<div class=card><b>{_e(value)}</b><span>{_e(label)}</span></div>"
                                            for value, label in cards)
            + f"</div><p class=note>Updated {updated}; the page reloads every {REFRESH_S} s.</p>")


def plots(status: Status, rounds: Sequence[Round], evaluations: Mapping[int, Mapping[str, float]],
          selected: Mapping[int, int]) -> str:
    """A grid of plots; the evaluation plots when evaluation is on, the others once a round has ended."""
    cards = []
    if status.evaluation:
        cards += [accuracy_plot(evaluations), eval_loss_plot(evaluations)]
    if rounds:
        cards += [participants_plot(rounds, selected), bytes_plot(rounds), rejections_plot(rounds),
                  train_loss_plot(rounds)]
    notes = [] if rounds else ["No round has finished yet: the plots fill in as rounds end."]
    if not status.evaluation:
        notes.append("Held-out evaluation is off: start the server with --eval-data FILE.npz to plot accuracy "
                     "and loss of every new global model.")
    return "".join(f"<p class=note>{_e(note)}</p>" for note in notes) + f"<div class=plots>{''.join(cards)}</div>"


def _plot(title: str, chart: str | None, empty: str) -> str:
    return f"<div class=plot><h3>{_e(title)}</h3>{chart or f'<p class=empty>{_e(empty)}</p>'}</div>"


def accuracy_plot(evaluations: Mapping[int, Mapping[str, float]]) -> str:
    """Held-out accuracy of each global model (round 0: the initial one), 0 to 100%."""
    points = [(n, 100 * e["accuracy"]) for n, e in sorted(evaluations.items()) if e.get("accuracy") is not None]
    chart = line_chart([Series("global model, held-out set", BLUE, points)], title="Held-out accuracy",
                       y_label="accuracy (%)", y_range=(0.0, 100.0), y_format=lambda v: f"{v:.0f}%",
                       size=PLOT_SIZE) if points else None
    return _plot("Held-out accuracy", chart, "No evaluation yet.")


def eval_loss_plot(evaluations: Mapping[int, Mapping[str, float]]) -> str:
    """Held-out loss of each global model."""
    points = [(n, e["loss"]) for n, e in sorted(evaluations.items()) if e.get("loss") is not None]
    chart = line_chart([Series("global model, held-out set", BLUE, points)], title="Held-out loss",
                       y_label="loss", from_zero=True, size=PLOT_SIZE) if points else None
    return _plot("Held-out loss", chart, "No evaluation yet.")


def participants_plot(rounds: Sequence[Round], selected: Mapping[int, int]) -> str:
    """Devices handed a task against updates accepted, per round."""
    series = [Series("accepted updates", BLUE, [(r["round"], r.get("accepted", 0)) for r in rounds]),
              Series("selected (tasks handed out)", GREY, [(r["round"], selected.get(r["round"], 0)) for r in rounds],
                     dashed=True)]
    chart = line_chart(series, title="Participants", y_label="devices", from_zero=True, size=PLOT_SIZE)
    return _plot("Participants", chart, "")


def bytes_plot(rounds: Sequence[Round]) -> str:
    """Bytes of accepted updates received per round."""
    series = [Series("accepted updates", GREEN, [(r["round"], r.get("bytes", 0)) for r in rounds])]
    chart = bar_chart(series, title="Bytes received", y_label="bytes received", y_format=byte_ticks, size=PLOT_SIZE)
    return _plot("Bytes received", chart, "")


def rejections_plot(rounds: Sequence[Round]) -> str:
    """Refused updates per round, stacked by reason."""
    reasons = sorted({reason for r in rounds for reason in r.get("rejected", {})})
    series = [Series(_words(reason), REASON_COLORS[i % len(REASON_COLORS)],
                     [(r["round"], r.get("rejected", {}).get(reason, 0)) for r in rounds])
              for i, reason in enumerate(reasons)]
    chart = bar_chart(series, title="Rejected updates by reason", y_label="updates",
                      size=PLOT_SIZE) if reasons else None
    return _plot("Rejected updates by reason", chart, "No update was rejected.")


def train_loss_plot(rounds: Sequence[Round]) -> str:
    """Mean training loss the devices reported with their updates."""
    points = [(r["round"], r["train_metrics"]["loss"]) for r in rounds if "loss" in (r.get("train_metrics") or {})]
    chart = line_chart([Series("mean over accepted updates", BLUE, points)], title="Training loss (device-reported)",
                       y_label="loss", from_zero=True, size=PLOT_SIZE) if points else None
    return _plot("Training loss (device-reported)", chart, "No device reported a loss.")


def rounds_table(rounds: Sequence[Round], evaluations: Mapping[int, Mapping[str, float]],
                 selected: Mapping[int, int]) -> str:
    """The most recent rounds, newest first, in human units."""
    if not rounds:
        return "<p class=note>No round has finished yet.</p>"
    header = ("round", "outcome", "version", "accepted / selected", "received", "rejected", "train loss",
              "accuracy", "held-out loss", "duration", "ended (UTC)")
    rows = "".join(_row(r, evaluations.get(r["round"], {}), selected.get(r["round"], 0))
                   for r in reversed(rounds[-TABLE_ROWS:]))
    shown = f"The last {TABLE_ROWS} rounds, newest first." if len(rounds) > TABLE_ROWS else "Newest first."
    return (f"<p class=note>{shown}</p><div class=rounds><table><tr>"
            f"{''.join(f'<th>{h}</th>' for h in header)}</tr>{rows}</table></div>")


def _row(r: Round, evaluation: Mapping[str, float], selected: int) -> str:
    rejected = ", ".join(f"{_words(k)} {v}" for k, v in sorted((r.get("rejected") or {}).items())) or "–"
    train_loss = (r.get("train_metrics") or {}).get("loss")
    cells = [r["round"], r.get("outcome", "–"), _or_dash(r.get("version")), f"{r.get('accepted', 0)} / {selected}",
             format_bytes(r.get("bytes", 0)), rejected, _decimal(train_loss), _percent(evaluation.get("accuracy")),
             _decimal(evaluation.get("loss")), _seconds(r.get("duration_s")), _clock(r.get("closed_at"))]
    return "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>"


def _e(value: object) -> str:
    return html.escape(str(value))


def _words(name: str) -> str:
    return name.replace("_", " ")


def _or_dash(value: object) -> str:
    return "–" if value is None else str(value)


def _decimal(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _small(value: float) -> str:
    """``1e-05`` → ``10⁻⁵``, ``2.5e-06`` → ``2.5 × 10⁻⁶``; values from 0.001 up as they are."""
    if value >= 1e-3:
        return f"{value:g}"
    mantissa, exponent = f"{value:.3e}".split("e")
    power = "10" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    mantissa = mantissa.rstrip("0").rstrip(".")
    return power if mantissa == "1" else f"{mantissa} × {power}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _clock(value: float | None) -> str:
    return "–" if value is None else time.strftime("%H:%M:%S", time.gmtime(value))
