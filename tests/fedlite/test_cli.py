"""The ``fedlite`` dispatcher and ``fedlite simulate`` as a user runs them: exit statuses, one-line
errors, and a short simulation whose summary, report and printed lines agree."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from fedlite import __version__
from fedlite.cli import SUBCOMMANDS, main
from fedlite.model_cache import cached_model_path
from fedlite.simulate import main as simulate


def test_usage_lists_every_command_and_a_bare_call_is_an_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert [line.split()[0] for line in usage.splitlines() if line.startswith("  ")] == list(SUBCOMMANDS)
    assert main([]) == 2 and capsys.readouterr().out == usage


def test_an_unknown_command_is_named_on_stderr(capsys: pytest.CaptureFixture) -> None:
    assert main(["trian"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("fedlite: unknown command 'trian'\n")


def test_version(capsys: pytest.CaptureFixture) -> None:
    assert main(["--version"]) == 0 and capsys.readouterr().out == f"fedlite {__version__}\n"


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_command_names_a_module_with_main(name: str) -> None:
    assert callable(importlib.import_module(SUBCOMMANDS[name][0]).main)


@pytest.mark.parametrize("args, message", [
    (["--dropout", "1"], "need 0 <= --dropout < 1"),
    (["--devices", "5", "--round-size", "6"], "--round-size must be between 1 and the number of devices (5), got 6"),
    (["--codec", "int3"], "--codec 'int3' is not a codec"),
])
def test_a_bad_simulate_option_is_one_line(capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    assert simulate(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"fedlite simulate: {message}")
    assert captured.err.count("\n") == 1


def test_a_short_simulation_writes_its_summary_and_report(tmp_path: Path, digits_cnn_tflite: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    cache = tmp_path / "cache"
    target = cached_model_path("digits_cnn", cache)
    target.parent.mkdir(parents=True)
    shutil.copyfile(digits_cnn_tflite, target)
    monkeypatch.setenv("FEDLITE_CACHE_DIR", str(cache))
    summary_path, out = tmp_path / "sim.json", tmp_path / "report"
    args = ["--devices", "6", "--round-size", "3", "--rounds", "2", "--epochs", "1", "--codec", "int8",
            "--json", str(summary_path), "--out", str(out)]
    assert simulate(args) == 0
    summary = json.loads(summary_path.read_text())
    assert (summary["devices"], summary["rounds"], summary["accepted_updates"]) == (6, 2, 6)
    assert summary["uploads"]["accepted"] == 6 and 7 < summary["bits_per_param"] < 9  # int8: ~8 bits
    report = json.loads((out / "report.json").read_text())
    assert report["summary"] == summary and report["settings"]["round_size"] == 3
    printed = capsys.readouterr().out
    assert printed.startswith("simulating 6 devices in one process (a Dirichlet(alpha=0.5) partition of 1348 ")
    assert f"report: {out / 'report.html'}\n" in printed and "uploads: accepted 6" in printed
