"""Prometheus text exposition and the JSON-lines history."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.history import History
from server.metrics import Metrics


def test_metrics_render_labels_and_escape() -> None:
    metrics = Metrics()
    metrics.inc("fedlite_updates_rejected_total", reason="norm_exceeded")
    metrics.inc("fedlite_updates_rejected_total", 2, reason='we"ird')
    metrics.set("fedlite_current_round", 7)
    text = metrics.render()
    assert 'fedlite_updates_rejected_total{reason="norm_exceeded"} 1\n' in text
    assert 'fedlite_updates_rejected_total{reason="we\\"ird"} 2\n' in text
    assert "# TYPE fedlite_current_round gauge\nfedlite_current_round 7\n" in text
    with pytest.raises(KeyError):
        metrics.inc("fedlite_typo_total")


def test_history_survives_a_torn_last_line(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl")
    history.append({"round": 1, "eval": {"accuracy": 0.5}})
    with open(tmp_path / "h.jsonl", "a") as file:
        file.write('{"round": 2, "ev')
    reopened = History(tmp_path / "h.jsonl")
    assert [r["round"] for r in reopened.read()] == [1] and reopened.evaluations == {1: {"accuracy": 0.5}}
