"""The run report (JSON + self-contained HTML with SVG plots) and the live progress output."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from fedlite.progress import Progress, describe_uplink, format_bytes
from fedlite.report import Series, line_chart, write_report
from fedlite.runs import RoundRecord, final_accuracy, read_rounds, rounds_to_reach


def record(number: int, accuracy: float | None, outcome: str = "published", uplink: int = 4250) -> RoundRecord:
    return RoundRecord(round=number, outcome=outcome, participants=10, accepted=10 if outcome == "published" else 0,
                       uplink_bytes=uplink, accuracy=accuracy, loss=None if accuracy is None else 1 - accuracy,
                       train_loss=0.5, seconds=1.5)


ROUNDS = [record(1, 0.31), record(2, 0.62), record(3, None, "abandoned", 0), record(4, 0.93)]


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    found = re.findall(r'<polyline [^>]*points="([^"]*)"', svg)
    return [[tuple(map(float, pair.split(","))) for pair in points.split()] for points in found]


def test_report_files_hold_the_rounds_and_plot_them(tmp_path: Path) -> None:
    html_path, json_path = write_report(tmp_path / "out", title="Demo <run>", summary={"final_accuracy": 0.93},
                                        settings={"codec": "rot-1bit", "note": "<b>&"}, rounds=ROUNDS,
                                        fp32_update_bytes=182_417)
    document = json.loads(json_path.read_text())
    assert document["summary"] == {"final_accuracy": 0.93}
    assert [r["round"] for r in document["rounds"]] == [1, 2, 3, 4]
    assert document["rounds"][3]["accuracy"] == 0.93
    page = html_path.read_text()
    accuracy_svg, bytes_svg = re.findall(r"<svg.*?</svg>", page, re.S)
    (accuracy_line,) = polylines(accuracy_svg)
    assert len(accuracy_line) == 3  # the abandoned round has no evaluation
    heights = [y for _, y in accuracy_line]
    assert heights == sorted(heights, reverse=True)  # rising accuracy is drawn upwards
    fp32_line, sent_line = polylines(bytes_svg)
    assert len(fp32_line) == len(sent_line) == 3 and all(f[1] < s[1] for f, s in zip(fp32_line, sent_line))
    assert "&lt;b&gt;&amp;" in page and "Demo &lt;run&gt;" in page and "<b>&" not in page


def test_report_page_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    html_path, _ = write_report(tmp_path, title="t", summary={}, settings={}, rounds=ROUNDS, fp32_update_bytes=10)
    page = html_path.read_text()
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/2000/svg"}


def test_a_chart_without_data_says_so() -> None:
    assert "no data" in line_chart("Bytes", [Series("sent", "#000", [(1, 0.0)])], log=True)
    assert "no data" in line_chart("Accuracy", [Series("model", "#000", [])])


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


def test_progress_on_a_terminal_redraws_a_bar_and_prints_rows() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    progress.header()
    progress.round_progress(4, 3, 10)
    progress.round_done(ROUNDS[3])
    text = stream.getvalue()
    assert "\r" in text and "[#######-----------------] 3/10" in text
    assert text.endswith("\r\x1b[2K" + "    4            10    93.00%    0.070        4.25 kB\n")  # the bar is erased


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
