"""Run settings: validation, and one server configuration whether passed in process or as a serve config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedlite.demo_run import Workspace, write_server_config
from fedlite.settings import RunSettings
from server.cli import config_from_args, parse_args
from server.config import build_config


@pytest.mark.parametrize("overrides, option", [
    ({"devices": 0}, "--devices"),
    ({"rounds": 0}, "--rounds"),
    ({"codec": "int3"}, "--codec 'int3'"),
    ({"strategy": "fedsgd"}, "--strategy 'fedsgd'"),
    ({"alpha": 0.0}, "--alpha"),
    ({"seed": -1}, "--seed"),
    ({"epochs": 0}, "--epochs"),
    ({"mode": "eager"}, "--mode"),
    ({"devices": 5, "round_size": 6}, "--round-size"),
    ({"over_selection": 0.5}, "--over-selection"),
    ({"round_size": 4, "min_quorum": 5}, "--min-quorum"),
    ({"deadline_s": 0}, "--deadline"),
    ({"strategy_params": {"lr": 0.1}}, "unknown strategy parameter 'lr'"),
    ({"strategy": "fedadam", "strategy_params": {"server_lr": 0.0}}, "server_lr must be finite and > 0"),
])
def test_a_bad_setting_is_named(overrides: dict, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        RunSettings(**overrides)


def test_round_size_and_quorum_default_to_the_fleet() -> None:
    settings = RunSettings(devices=7)
    assert (settings.target, settings.quorum) == (7, 3)
    assert RunSettings(devices=30, round_size=10, min_quorum=10).quorum == 10


def test_the_serve_config_file_configures_the_same_server_as_the_in_process_sections(tmp_path: Path) -> None:
    settings = RunSettings(devices=12, rounds=7, codec="int4", strategy="fedadam", strategy_params={"server_lr": 0.03},
                           epochs=2, mode="async", round_size=5, over_selection=1.5, deadline_s=30, max_staleness=3)
    paths = {"model": str(tmp_path / "m.tflite"), "data_dir": str(tmp_path / "d")}
    in_process = build_config({"server": paths, **settings.server_sections()})
    config_file = write_server_config(settings, Workspace(tmp_path, tmp_path))
    flags = ["--model", paths["model"], "--data-dir", paths["data_dir"], "--config", str(config_file)]
    assert config_from_args(parse_args(flags)) == in_process
    assert (in_process.rounds.target, in_process.rounds.max_rounds, in_process.training.codec) == (5, 7, "int4")
    assert in_process.aggregation.strategy == "fedadam" and in_process.rounds.mode == "async"
    assert in_process.aggregation.strategy_params == {"server_lr": 0.03}


def test_resolved_settings_fill_in_the_round_size_and_quorum() -> None:
    resolved = RunSettings(devices=7, strategy_params={"server_lr": 2.0}).resolved()
    assert (resolved["round_size"], resolved["min_quorum"], resolved["strategy_params"]) == (7, 3, {"server_lr": 2.0})
    assert set(resolved) == set(vars(RunSettings()))
