"""The run report (JSON + self-contained HTML with SVG plots), the run summary and the live progress output."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from fedlite.progress import Progress, describe_target, describe_uplink, format_bytes
from fedlite.report import write_report
from fedlite.runs import RoundRecord, final_accuracy, read_rounds, rounds_to_reach, summarise
from fedlite.settings import RunSettings
from tests.support.pages import polylines, visible_text


def record(number: int, accuracy: float | None, outcome: str = "published", uplink: int = 42_500) -> RoundRecord:
    return RoundRecord(round=number, outcome=outcome, participants=10, accepted=10 if outcome == "published" else 0,
                       uplink_bytes=uplink, accuracy=accuracy, loss=None if accuracy is None else 1 - accuracy,
                       train_loss=0.5, seconds=1.5)


ROUNDS = [record(1, 0.31), record(2, 0.62), record(3, None, "abandoned", 0), record(4, 0.93)]
SUMMARY = summarise(ROUNDS, devices=10, trainable_parameters=45_482, fp32_update_bytes=182_416, seconds=19.4)
SETTINGS = RunSettings(devices=10, rounds=4, strategy="fedadam", strategy_params={"server_lr": 0.03}, alpha=0.3,
                       seed=7, epochs=5)


@pytest.fixture
def page(tmp_path: Path) -> str:
    html_path, _ = write_report(tmp_path, title="Demo <run>", lead="Ten devices & one server.", summary=SUMMARY,
                                settings=SETTINGS.resolved(), rounds=ROUNDS)
    return html_path.read_text()


def test_the_summary_counts_bytes_and_bits_of_accepted_updates() -> None:
    assert (SUMMARY["final_accuracy"], SUMMARY["rounds"], SUMMARY["rounds_to_90"]) == (0.93, 4, 4)
    assert (SUMMARY["accepted_updates"], SUMMARY["uplink_bytes"], SUMMARY["fp32_uplink_bytes"]) == (30, 127_500,
                                                                                                    30 * 182_416)
    assert SUMMARY["uplink_bytes_per_update"] == 4250.0
    assert SUMMARY["bits_per_param"] == pytest.approx(8 * 4250 / 45_482, abs=1e-4)


def test_the_headline_reads_as_numbers_with_units(page: str) -> None:
    text = visible_text(page)
    assert text[:2] == ["Demo <run>", "Ten devices & one server."]
    assert "codec rot-randk50-1bit · strategy fedadam (server_lr 0.03) · Dirichlet α 0.3 · seed 7" in text[2]
    cards = text[3:11]
    assert cards == ["93.0%", "held-out accuracy (90% at round 4)", "4", "rounds", "10", "devices", "19 s", "wall time"]
    uplink = text[11:19]
    assert uplink == ["127.50 kB", "uplink, all updates", "5.47 MB", "the same updates as float32", "43× less",
                      "than float32", "0.75", "bits per parameter (float32: 32.1)"]
    assert not any(re.search(r"\d\.\d{5,}|\b(final_accuracy|uplink_bytes)\b", chunk) for chunk in text)


def test_the_plots_have_labelled_axes_and_lines_that_follow_the_rounds(page: str) -> None:
    accuracy_svg, bytes_svg = re.findall(r"<svg.*?</svg>", page, re.S)
    assert {"accuracy (%)", "round", "0%", "100%", "90%"} <= set(visible_text(accuracy_svg))
    (accuracy_line,) = polylines(accuracy_svg)
    assert len(accuracy_line) == 3  # the abandoned round has no evaluation
    heights = [y for _, y in accuracy_line]
    assert heights == sorted(heights, reverse=True)  # rising accuracy is drawn upwards
    assert {"bytes per round (log scale)", "round", "10 kB", "1 MB", "sent", "as float32 updates"} <= set(
        visible_text(bytes_svg))
    sent_line, fp32_line = polylines(bytes_svg)
    assert len(fp32_line) == len(sent_line) == 3 and all(f[1] < s[1] for f, s in zip(fp32_line, sent_line))


def test_the_rounds_table_and_the_settings_are_readable(page: str) -> None:
    rounds = re.search(r"<table class='rounds'>(.*?)</table>", page).group(1)
    rows = [visible_text(row) for row in re.findall(r"<tr>(.*?)</tr>", rounds)]
    assert rows == [["round", "participants", "accuracy", "loss", "uplink"],
                    ["1", "10", "31.00%", "0.690", "42.50 kB"], ["2", "10", "62.00%", "0.380", "42.50 kB"],
                    ["3", "abandoned", "-", "-", "0 B"], ["4", "10", "93.00%", "0.070", "42.50 kB"]]
    settings = visible_text(re.search(r"<table class='settings'>(.*?)</table>", page).group(1))
    pairs = dict(zip(settings[::2], settings[1::2]))
    assert pairs["label skew: Dirichlet α"] == "0.3" and pairs["local epochs per round"] == "5"
    assert pairs["strategy overrides"] == "server_lr = 0.03" and pairs["updates per round"] == "10"


def test_the_report_json_holds_the_same_numbers(tmp_path: Path) -> None:
    _, json_path = write_report(tmp_path, title="t", lead="", summary=SUMMARY, settings=SETTINGS.resolved(),
                                rounds=ROUNDS)
    document = json.loads(json_path.read_text())
    assert document["summary"] == SUMMARY and document["settings"]["strategy_params"] == {"server_lr": 0.03}
    assert [r["round"] for r in document["rounds"]] == [1, 2, 3, 4] and document["rounds"][3]["accuracy"] == 0.93


def test_report_page_escapes_text_and_loads_nothing_from_elsewhere(page: str) -> None:
    assert "Demo &lt;run&gt;" in page and "devices &amp; one" in page and "<run>" not in page
    assert "<script" not in page and "<link" not in page and "<img" not in page and "url(" not in page
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/2000/svg"}


def test_a_report_shows_where_training_started_and_what_became_of_uploads(tmp_path: Path) -> None:
    summary = {**SUMMARY, "initial_accuracy": 0.1, "uploads": {"accepted": 30, "round_closed": 4}}
    html_path, _ = write_report(tmp_path, title="t", lead="", summary=summary, settings=SETTINGS.resolved(),
                                rounds=ROUNDS)
    page = html_path.read_text()
    text = " ".join(visible_text(page))
    assert "held-out accuracy (from 10.0% untrained, 90% at round 4)" in text
    (accuracy_line,) = polylines(re.search(r"<svg.*?</svg>", page, re.S).group(0))
    assert len(accuracy_line) == 4 and accuracy_line[0][1] > accuracy_line[1][1]  # round 0: the untrained model
    assert "Uploads: accepted 30, round closed 4." in text


def test_a_run_without_accepted_updates_says_so(tmp_path: Path) -> None:
    rounds = [record(1, None, "abandoned", 0)]
    summary = summarise(rounds, devices=3, trainable_parameters=100, fp32_update_bytes=500, seconds=1.0)
    html_path, _ = write_report(tmp_path, title="t", lead="", summary=summary, settings={}, rounds=rounds)
    text = visible_text(html_path.read_text())
    assert "-" in text and "Uplink: no update was accepted." in text
    assert "Held-out accuracy after each round: no data." in text


def test_history_records_become_round_records(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    lines = [{"round": 0, "outcome": "initial", "eval": {"accuracy": 0.1, "loss": 2.3}},
             {"round": 1, "outcome": "published", "accepted": 3, "participants": 3, "bytes": 900,
              "train_metrics": {"loss": 1.2}, "duration_s": 2.0, "eval": {"accuracy": 0.5, "loss": 1.4}},
             {"round": 2, "outcome": "abandoned", "accepted": 0, "participants": 0, "bytes": 0}]
    history.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"round": 3, "outc')  # torn last line
    rounds = read_rounds(history)
    assert [(r.round, r.outcome, r.accuracy) for r in rounds] == [(1, "published", 0.5), (2, "abandoned", None)]
    assert rounds[0].uplink_bytes == 900 and rounds[0].train_loss == 1.2
    assert final_accuracy(rounds) == 0.5 and rounds_to_reach(rounds, 0.5) == 1 and rounds_to_reach(rounds, 0.9) is None


def test_progress_on_a_terminal_redraws_a_bar_with_the_round_time_and_prints_rows() -> None:
    stream, now = io.StringIO(), iter([100.0, 100.0, 103.2])
    progress = Progress(stream, live=True, clock=lambda: next(now))
    progress.header()
    progress.round_progress(4, 0, 10)
    progress.round_progress(4, 3, 10)
    progress.round_done(ROUNDS[3])
    text = stream.getvalue()
    assert "\rround   4 [------------------------] 0/10 updates  0 s" in text.replace("\x1b[2K", "")
    assert "[#######-----------------] 3/10 updates  3 s" in text
    assert text.endswith("\r\x1b[2K" + "    4            10    93.00%    0.070       42.50 kB\n")  # the bar is erased


def test_progress_in_a_log_file_is_only_the_table() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=False)
    progress.header()
    for number, done in ((1, 1), (1, 2)):
        progress.round_progress(number, done, 2)
    for row in ROUNDS:
        progress.round_done(row)
    lines = stream.getvalue().split("\n")
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert lines[0].split() == ["round", "participants", "accuracy", "loss", "uplink", "bytes"]
    assert [line.split()[:3] for line in lines[1:5]] == [["1", "10", "31.00%"], ["2", "10", "62.00%"],
                                                         ["3", "abandoned", "-"], ["4", "10", "93.00%"]]


def test_byte_counts_read_naturally() -> None:
    assert [format_bytes(n) for n in (999, 4250, 36_483_200, 2e9)] == ["999 B", "4.25 kB", "36.48 MB", "2.00 GB"]
    line = describe_uplink(849_965, 36_483_200, 200, 0.747)
    assert "849.97 kB in 200 updates" in line and "0.75 bits per parameter" in line and "(43x less)" in line
    assert describe_uplink(0, 0, 0, 0.0) == "uplink: no update was accepted"


def test_the_90_percent_mark_is_named_or_said_to_be_missed() -> None:
    assert describe_target(7) == "90% first reached in round 7"
    assert describe_target(None) == "90% not reached"
