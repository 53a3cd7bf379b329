"""The simulator: virtual devices against the real in-process server, sync and async, with dropout.

Each run checks both what the simulator reports and what the server's own ledger recorded, so a
simulator that skipped the protocol could not pass.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fedlite.examples import load_digits_split
from fedlite.settings import RunSettings
from fedlite.simulation import FleetBehaviour, Simulation, SimulationResult


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(0)


def simulate(model: Path, work: Path, data, settings: RunSettings, behaviour: FleetBehaviour) -> SimulationResult:
    work.mkdir()
    return Simulation(settings, behaviour, model, work, data=data).run()


def ledger(work: Path, query: str) -> list[tuple]:
    with sqlite3.connect(work / "server" / "ledger.sqlite3") as conn:
        return conn.execute(query).fetchall()


def test_sync_rounds_with_dropout_and_stragglers_learn(digits_cnn_tflite: Path, tmp_path: Path, digits) -> None:
    settings = RunSettings(devices=30, rounds=10, codec="int8", epochs=5, round_size=10, over_selection=1.5,
                           deadline_s=10)
    fleet = FleetBehaviour(dropout=0.2, stragglers=0.2)
    result = simulate(digits_cnn_tflite, tmp_path / "sim", digits, settings, fleet)
    summary = result.summary()
    assert summary["final_accuracy"] >= summary["initial_accuracy"] + 0.4
    assert [r.round for r in result.rounds] == list(range(1, 11))
    assert result.uploads["dropped"] > 0 and result.uploads["round_closed"] > 0  # over-selection covered both
    assert summary["accepted_updates"] == sum(r.accepted for r in result.rounds) == result.uploads["accepted"]
    work = tmp_path / "sim"
    assert ledger(work, "SELECT COUNT(*), COUNT(DISTINCT public_key) FROM devices") == [(30, 30)]
    per_round = ledger(work, "SELECT round, COUNT(*), COUNT(DISTINCT device_id), SUM(length) FROM updates "
                             "GROUP BY round")
    assert [(n, count, distinct) for n, count, distinct, _ in per_round] == [(n, 10, 10) for n in range(1, 11)]
    assert sum(total for *_, total in per_round) == summary["uplink_bytes"]


def test_async_buffers_with_dropout_learn_and_weigh_stale_updates_down(digits_cnn_tflite: Path, tmp_path: Path,
                                                                     digits) -> None:
    settings = RunSettings(devices=30, rounds=20, codec="int8", epochs=5, mode="async", round_size=5,
                           over_selection=2.0, deadline_s=3)
    fleet = FleetBehaviour(dropout=0.2, stragglers=0.2)
    result = simulate(digits_cnn_tflite, tmp_path / "sim", digits, settings, fleet)
    summary = result.summary()
    assert summary["final_accuracy"] >= summary["initial_accuracy"] + 0.45
    assert len(result.rounds) == 20 and all(r.accepted == 5 for r in result.rounds)
    assert result.uploads["dropped"] > 0
    factors = [factor for (factor,) in ledger(tmp_path / "sim", "SELECT factor FROM updates")]
    assert len(factors) == 100 and min(factors) < 1.0 == max(factors)  # some arrived on an older version


def test_a_stale_update_is_refused_by_the_server(digits_cnn_tflite: Path, tmp_path: Path, digits) -> None:
    settings = RunSettings(devices=20, rounds=3, codec="rot-randk50-1bit", epochs=1, mode="async", round_size=2,
                           over_selection=3.0, max_staleness=0)
    result = simulate(digits_cnn_tflite, tmp_path / "sim", digits, settings, FleetBehaviour())
    assert result.uploads["stale_base"] > 0 and result.uploads["accepted"] >= 6
    assert result.summary()["bits_per_param"] < 1.0


def test_a_large_fleet_draws_overlapping_samples(digits_cnn_tflite: Path, tmp_path: Path, digits) -> None:
    settings = RunSettings(devices=400, rounds=1, codec="rot-1bit", epochs=1, round_size=20)
    result = simulate(digits_cnn_tflite, tmp_path / "sim", digits, settings, FleetBehaviour())
    assert result.rounds[0].accepted == 20
    assert ledger(tmp_path / "sim", "SELECT COUNT(*) FROM devices") == [(400,)]
    assert sum(n for (n,) in ledger(tmp_path / "sim", "SELECT num_examples FROM updates")) == 20 * 32


def test_bad_fleet_behaviour_is_named() -> None:
    with pytest.raises(ValueError, match="--dropout"):
        FleetBehaviour(dropout=1.0)
    with pytest.raises(ValueError, match="--examples-per-device"):
        FleetBehaviour(examples_per_device=0)
