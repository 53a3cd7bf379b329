"""Federated benchmark: one fixed task, run once per update codec and once per server strategy.

    python benchmarks/federated.py [--json FILE] [--rounds N] [--codecs fp32,rot-1bit,...] [--jobs N]
                                   [--strategy NAME[:KEY=VALUE,...]]...

The task: the example digits CNN, 20 devices holding a Dirichlet(alpha = 0.5) label-skewed
partition of the digits training set, every device in every round, one local epoch, fixed seeds.
It runs in the simulator (``fedlite.simulate``): the real server app in process, the real
protocol, every update really encoded, uploaded, decoded and aggregated; accuracy is the
server's own evaluation on the held-out test set after each round. The seed fixes the data
split, the partition and every device's shuffling, so fp32 runs repeat exactly; the server draws
each task's codec seeds (stochastic rounding, random-k selection, rotation) at random, as in
production, so a compressed run can differ from a repeat by a round or two to 90%. Runs are
independent, so ``--jobs`` of them run side by side (default: one per core); the seconds column is
the wall time of a run under that load.

Per run: final accuracy, the first round at 90% accuracy, the mean uplink bytes of one device's
update (the whole bundle: header, metadata, tensor headers, scales, CRC) and bits per parameter
= 8 x those bytes / trainable parameters. The fp32 run is the baseline. The summary names the
smallest preset at <= 1 bit per parameter whose final accuracy is within 1 percentage point of
fp32's and that reaches 90% in at most 20% more rounds.

``--strategy`` (repeatable) replaces the strategies run with the default codec, and may override a
preset's hyper-parameters, e.g. ``--strategy fedadam:server_lr=0.03,tau=0.01``: how the presets of
docs/aggregation.md were chosen. ``--codecs ''`` then runs only those.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_sdk.wire import PRESETS  # noqa: E402
from fedlite.model_cache import ensure_model  # noqa: E402
from fedlite.settings import DEFAULT_CODEC, RunSettings  # noqa: E402
from fedlite.simulate import run_simulation  # noqa: E402
from fedlite.simulation import FleetBehaviour  # noqa: E402

TASK = {"devices": 20, "alpha": 0.5, "seed": 0, "epochs": 1}
STRATEGIES = ("fedavgm", "fedadam", "fedyogi", "fedadagrad")  # run with the default codec, after FedAvg
MAX_BITS, MAX_ACCURACY_DROP, MAX_EXTRA_ROUNDS = 1.0, 0.01, 0.20
LAST = 10  # rounds whose mean accuracy shows where a run settles (and whether it oscillates)
COLUMNS = (("codec", 18), ("strategy", 10), ("final acc", 9), (f"last {LAST} mean", 12), ("rounds to 90%", 13),
           ("bytes/update", 12), ("bits/param", 10), ("seconds", 7))


def parse_strategy(spec: str) -> tuple[str, dict[str, float]]:
    """``fedadam:server_lr=0.03,tau=0.01`` → ("fedadam", {"server_lr": 0.03, "tau": 0.01}); ValueError if
    malformed."""
    name, _, overrides = spec.partition(":")
    params = {}
    for item in filter(None, overrides.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--strategy {spec!r}: expected NAME[:KEY=NUMBER,...], got {item!r}") from None
    try:
        RunSettings(strategy=name.strip(), strategy_params=params)
    except ValueError as exc:
        raise ValueError(f"--strategy {spec!r}: {exc}") from None
    return name.strip(), params


def plan(codecs: list[str], strategies: list[str], strategy_codec: str) -> list[tuple[str, str]]:
    """(codec, strategy spec) pairs: every codec with FedAvg, then ``strategy_codec`` with each other strategy."""
    return [(codec, "fedavg") for codec in codecs] + [(strategy_codec, s) for s in strategies]


def run_one(model: Path, task: dict[str, Any], codec: str, strategy: str) -> dict[str, Any]:
    """One run of ``task`` with ``strategy`` (a spec for :func:`parse_strategy`); its row."""
    name, params = parse_strategy(strategy)
    settings = RunSettings(codec=codec, strategy=name, strategy_params=params, **task)
    result = run_simulation(settings, FleetBehaviour(), model)
    summary, accuracies = result.summary(), [r.accuracy for r in result.rounds if r.accuracy is not None]
    return {"codec": codec, "strategy": strategy, "final_accuracy": summary["final_accuracy"],
            f"last_{LAST}_mean_accuracy": sum(accuracies[-LAST:]) / len(accuracies[-LAST:]),
            "rounds_to_90": summary["rounds_to_90"], "uplink_bytes_per_device_round": summary["uplink_bytes_per_update"],
            "bits_per_param": summary["bits_per_param"], "seconds": summary["seconds"], "accuracy_by_round": accuracies}


def print_row(row: dict[str, Any], columns: Sequence[tuple[str, int]]) -> None:
    cells = (row["codec"], row["strategy"], f"{row['final_accuracy']:.2%}", f"{row[f'last_{LAST}_mean_accuracy']:.2%}",
             row["rounds_to_90"] or "-", f"{row['uplink_bytes_per_device_round']:.0f}", f"{row['bits_per_param']:.3f}",
             f"{row['seconds']:.0f}")
    print("  ".join(str(cell).rjust(width) for cell, (_, width) in zip(cells, columns)), flush=True)


def meets_targets(row: dict[str, Any], baseline: dict[str, Any]) -> bool:
    """<= 1 bit per parameter, accuracy within 1 point of fp32, rounds to 90% within 20% of fp32's."""
    if row["bits_per_param"] > MAX_BITS or row["final_accuracy"] < baseline["final_accuracy"] - MAX_ACCURACY_DROP:
        return False
    if baseline["rounds_to_90"] is None:
        return True
    return row["rounds_to_90"] is not None and row["rounds_to_90"] <= baseline["rounds_to_90"] * (1 + MAX_EXTRA_ROUNDS)


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The best preset meeting the targets (fewest bits), judged against the fp32 FedAvg run."""
    baseline = next((r for r in rows if r["codec"] == "fp32" and r["strategy"] == "fedavg"), None)
    if baseline is None:
        return {"baseline": None, "best": None}
    passing = [r for r in rows if r["strategy"] == "fedavg" and meets_targets(r, baseline)]
    best = min(passing, key=lambda r: r["bits_per_param"], default=None)
    return {"baseline": "fp32", "best": best and best["codec"], "passing": [r["codec"] for r in passing],
            "default_codec": DEFAULT_CODEC}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--rounds", type=int, default=80, help="rounds per run (default 80)")
    parser.add_argument("--seed", type=int, default=TASK["seed"], help="seed of the split, partition and shuffling")
    parser.add_argument("--epochs", type=int, default=TASK["epochs"], help="local epochs per round (default 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs side by side (default: cores)")
    parser.add_argument("--codecs", default=",".join(PRESETS), help="comma-separated codec presets (default: all)")
    parser.add_argument("--strategy", action="append", dest="strategies", metavar="NAME[:KEY=VALUE,...]",
                        help=f"strategy to run with --strategy-codec, repeatable (default: {', '.join(STRATEGIES)})")
    parser.add_argument("--strategy-codec", default=DEFAULT_CODEC, choices=PRESETS, metavar="CODEC",
                        help=f"the codec of the strategy runs (default {DEFAULT_CODEC})")
    return parser


def run_all(model: Path, task: dict[str, Any], pairs: list[tuple[str, str]], jobs: int) -> list[dict[str, Any]]:
    """Every (codec, strategy) run of ``task``, ``jobs`` at a time; each row printed as it arrives."""
    width = max(len(strategy) for _, strategy in pairs)
    columns = [(title, max(size, width) if title == "strategy" else size) for title, size in COLUMNS]
    print("  ".join(title.rjust(size) for title, size in columns))
    rows = []
    with ProcessPoolExecutor(max(1, jobs)) as pool:
        for row in pool.map(functools.partial(run_one, model, task), *zip(*pairs)):
            rows.append(row)
            print_row(row, columns)
    return rows


def main() -> int:
    parser = _parser()
    args = parser.parse_args()
    strategies = args.strategies or list(STRATEGIES)
    try:
        for spec in strategies:
            parse_strategy(spec)
    except ValueError as exc:
        parser.error(str(exc))
    model, _ = ensure_model("digits_cnn")
    task = {**TASK, "seed": args.seed, "epochs": args.epochs, "rounds": args.rounds}
    print(f"task: digits CNN, {task['devices']} devices, Dirichlet alpha {task['alpha']}, {task['epochs']} local "
          f"epochs, {task['rounds']} rounds, seed {task['seed']}")
    codecs = [name for name in args.codecs.split(",") if name]
    rows = run_all(model, task, plan(codecs, strategies, args.strategy_codec), args.jobs)
    result = verdict(rows)
    print(f"presets meeting the targets (<= {MAX_BITS:g} bit/param, accuracy within {MAX_ACCURACY_DROP:.0%} of fp32, "
          f"rounds to 90% within {MAX_EXTRA_ROUNDS:.0%}): {', '.join(result.get('passing') or []) or 'none'}")
    print(f"best trade-off: {result['best'] or 'none'}; the demo's default codec is {DEFAULT_CODEC}")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "task": task, "verdict": result,
                                         "machine": platform.machine(), "python": platform.python_version()},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
