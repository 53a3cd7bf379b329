"""The operator dashboard: header, plots and rounds table for zero, one and hundreds of rounds, with and
without evaluation and rejections; and the page a real engine (real SQLite ledger) renders."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from server.dashboard import REFRESH_S, TABLE_ROWS, Status, render_dashboard, render_page
from server.errors import ApiError
from tests.server.test_engine import Harness, run
from tests.support.pages import charts, polylines, table_rows, visible_text

NOW = 1_700_000_000.0
STATUS = Status(round=1, state="open", version=0, mode="sync", accepted=0, target=3, training=2, devices=5,
                codec="int8", strategy="fedavg", model="digits_cnn", evaluation=False)
ALL_PLOTS = {"Held-out accuracy", "Held-out loss", "Participants", "Bytes received", "Rejected updates by reason",
             "Training loss (device-reported)"}


def finished(number: int, *, rejected: dict | None = None, accepted: int = 3, loss: float = 1.219) -> dict:
    """A finished round as ``Ledger.rounds`` returns it."""
    return {"round": number, "base_version": number - 1, "opened_at": NOW - 60, "closed_at": NOW - 30 + number,
            "outcome": "published", "version": number, "accepted": accepted, "examples": 900, "bytes": 140_031,
            "participants": accepted, "rejected": rejected or {}, "train_metrics": {"loss": loss},
            "epsilon": None, "duration_s": 1.43}


def page_for(rounds: list[dict], evaluations: dict | None = None, selected: dict | None = None, **status) -> str:
    status = replace(STATUS, evaluation=evaluations is not None, **status)
    return render_page(status, rounds, evaluations or {}, selected or {}, now=NOW)


def test_a_fresh_server_says_what_is_going_on_and_reloads_itself() -> None:
    page = page_for([])
    text = visible_text(page)
    assert f'<meta http-equiv=refresh content={REFRESH_S}>' in page
    assert "model digits_cnn · mode sync · codec int8 · strategy fedavg · held-out evaluation off" in text
    cards = text[text.index("1"):text.index("devices enrolled") + 1]
    assert cards == ["1", "round · open", "0", "global model version", "0 / 3",
                     "updates accepted / target · 2 training", "5", "devices enrolled"]
    assert "No round has finished yet: the plots fill in as rounds end." in text
    assert any(line.startswith("Held-out evaluation is off: start the server with --eval-data") for line in text)
    assert "<svg" not in page and "<table" not in page and "Updated 2023-11-14 22:13:20 UTC" in " ".join(text)


def test_the_initial_model_is_plotted_before_any_round_ends() -> None:
    page = page_for([], evaluations={0: {"accuracy": 0.156, "loss": 2.302}})
    assert set(charts(page)) == {"Held-out accuracy", "Held-out loss"}
    ((point,),) = polylines(charts(page)["Held-out accuracy"])
    assert "15.6%" in visible_text(page) and "held-out accuracy of the initial model" in visible_text(page)


def test_one_round_with_rejections_fills_every_plot_and_the_table() -> None:
    rounds = [finished(1, rejected={"malformed": 1, "round_closed": 2})]
    page = page_for(rounds, evaluations={0: {"accuracy": 0.1, "loss": 2.3}, 1: {"accuracy": 0.746, "loss": 0.926}},
                    selected={1: 4}, round=2, version=1)
    plots = charts(page)
    assert set(plots) == ALL_PLOTS
    participants = visible_text(plots["Participants"])
    assert {"accepted updates", "selected (tasks handed out)", "devices", "round"} <= set(participants)
    accepted, selected = polylines(plots["Participants"])
    assert accepted[0][1] > selected[0][1]  # 3 accepted is drawn below 4 selected
    rejections = plots["Rejected updates by reason"]
    assert {"malformed", "round closed", "updates"} <= set(visible_text(rejections))
    assert rejections.count("<rect x") == 2 + 2  # two bars and two legend swatches
    assert {"0 B", "50 kB", "100 kB", "150 kB", "bytes received"} <= set(visible_text(plots["Bytes received"]))
    header, row = table_rows(page)
    assert header[:6] == ["round", "outcome", "version", "accepted / selected", "received", "rejected"]
    assert row == ["1", "published", "1", "3 / 4", "140.03 kB", "malformed 1, round closed 2", "1.219", "74.6%",
                   "0.926", "1.4 s", "22:12:51"]


def test_no_rejections_and_no_evaluation_leave_no_empty_plots_behind() -> None:
    page = page_for([finished(1), finished(2)], selected={1: 3, 2: 3})
    assert set(charts(page)) == ALL_PLOTS - {"Held-out accuracy", "Held-out loss", "Rejected updates by reason"}
    text = visible_text(page)
    assert "No update was rejected." in text and [row[5] for row in table_rows(page)[1:]] == ["–", "–"]
    assert [row[7:9] for row in table_rows(page)[1:]] == [["–", "–"], ["–", "–"]]


def test_hundreds_of_rounds_thin_out_labels_and_show_the_newest_rows() -> None:
    shown = range(101, 301)  # the ledger hands over the last 200 rounds of a longer run
    rounds = [finished(n, rejected={"malformed": n % 3} if n % 3 else {}, loss=2.0 / n) for n in shown]
    evaluations = {n: {"accuracy": 1 - 1 / (n + 2), "loss": 1 / (n + 1)} for n in range(301)}
    page = page_for(rounds, evaluations=evaluations, selected={n: 4 for n in shown})
    for name, svg in charts(page).items():
        labels = [int(t) for t in re.findall(r'text-anchor="middle" fill="[^"]*">(\d+)<', svg)]
        assert labels == [100, 150, 200, 250, 300] or labels == [150, 200, 250, 300], (name, labels)
    (accuracy,) = polylines(charts(page)["Held-out accuracy"])
    assert len(accuracy) == 201  # from the model round 101 started from
    rows = table_rows(page)
    assert len(rows) == 1 + TABLE_ROWS and [rows[1][0], rows[-1][0]] == ["300", str(300 - TABLE_ROWS + 1)]
    assert f"The last {TABLE_ROWS} rounds, newest first." in visible_text(page)
    assert "99.7%" in visible_text(page)  # the newest evaluation heads the page


def test_numbers_are_human_and_the_page_loads_nothing_from_elsewhere() -> None:
    rounds = [finished(n, rejected={"norm_exceeded": 1}) | {"bytes": 1_234_567_890} for n in (1, 2)]
    page = page_for(rounds, evaluations={1: {"accuracy": 0.5, "loss": 1e-5}}, model="<script>", epsilon=1.23456,
                    delta=1e-5)
    text = " ".join(visible_text(page))
    assert not re.search(r"\d[eE][+-]?\d", text)  # no 1.4e+05 anywhere
    assert "1.23 GB" in text and "ε 1.23" in text and "privacy spent (δ = 10⁻⁵)" in visible_text(page)
    assert "&lt;script&gt;" in page and "<script" not in page and "<link" not in page and "<img" not in page
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/2000/svg"}


def test_a_real_engine_page_counts_selected_devices_and_rejections_per_round(digits_mlp_tflite: Path,
                                                                             tmp_path: Path) -> None:
    async def scenario() -> str:
        h = Harness(digits_mlp_tflite, tmp_path, rounds={"target": 2, "min_quorum": 2},
                    aggregation={"strategy": "fedadam", "strategy_params": {"server_lr": 0.03}},
                    privacy={"noise_multiplier": 1.0, "clip_norm": 0.5, "population": 100})
        a, b, c, d = await h.enroll(4)
        tasks = {device: await h.task(device) for device in (a, b, c)}  # round 1 selects three
        with pytest.raises(ApiError, match="cannot be decoded"):
            await h.upload(c, tasks[c].task_id, b"not an update")
        for device in (a, b):
            await h.upload(device, tasks[device].task_id, h.body(tasks[device])[0])
        with pytest.raises(ApiError, match="round"):  # round 1 is over: too late
            await h.upload(c, tasks[c].task_id, h.body(tasks[c])[0])
        for device in (d, a):
            task = await h.task(device)
            await h.upload(device, task.task_id, h.body(task)[0])
        page = render_dashboard(h.engine.ledger.rounds(), h.engine)
        h.engine.close()
        return page

    page = run(scenario())
    rows = table_rows(page)
    assert [row[:6] for row in rows[1:]] == [["2", "published", "2", "2 / 2", rows[1][4], "round closed 1"],
                                            ["1", "published", "1", "2 / 3", rows[2][4], "malformed 1"]]
    assert all(row[4].endswith(" kB") for row in rows[1:])
    text = visible_text(page)
    assert text[text.index("devices enrolled") - 1] == "4" and any(chunk.startswith("ε ") for chunk in text)
    assert "strategy fedadam (server_lr 0.03)" in text[1] and "round · open" in text
