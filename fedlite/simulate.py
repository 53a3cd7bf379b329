"""``fedlite simulate``: many virtual devices against the real server, all in one process.

The server is the real app (engine, storage, aggregation, evaluation) driven through the
in-process ASGI transport; each virtual device enrols with its own key and runs the real
protocol (signed check-in, verified downloads, encoded uploads), while all of them share one
TFLite interpreter (:mod:`fedlite.fleet`). See :mod:`fedlite.simulation` for dropout, stragglers
and the two round modes.

    fedlite simulate --devices 1000 --round-size 50 --rounds 20 --dropout 0.1 --stragglers 0.1
    fedlite simulate --devices 1000 --mode async --round-size 20 --json sim.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edge_sdk._lazy import MissingDependencyError
from fedlite.model_cache import ExampleModelError, ensure_model
from fedlite.progress import Progress, describe_target, describe_uplink
from fedlite.report import write_report
from fedlite.settings import DEFAULT_CODEC, MODES, RunSettings
from fedlite.simulation import Data, FleetBehaviour, Simulation, SimulationResult, sampled_examples


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlite simulate", description=__doc__.split("\n\n")[0].replace("``", ""))
    add = parser.add_argument
    add("--devices", type=int, default=100, help="virtual devices (default 100; 1,000+ fit in memory)")
    add("--rounds", type=int, default=30, help="rounds (async: published versions) to run (default 30)")
    add("--round-size", type=int, help="updates per round, async: per buffer (default 20, at most --devices)")
    add("--mode", choices=MODES, default="sync", help="sync rounds or async buffered (FedBuff) aggregation")
    add("--codec", default=DEFAULT_CODEC, help=f"update codec preset (default {DEFAULT_CODEC})")
    add("--strategy", default="fedavg", help="server strategy: fedavg, fedavgm, fedadam, fedyogi, fedadagrad")
    add("--alpha", type=float, default=0.5, help="Dirichlet concentration of the label skew (default 0.5)")
    add("--seed", type=int, default=0, help="seed of the data split, partition and fleet (default 0)")
    add("--epochs", type=int, default=5, help="local epochs per task (default 5, as in the demo)")
    add("--over-selection", type=float, default=1.3, help="devices selected per round / round size (default 1.3)")
    add("--min-quorum", type=int, help="fewest updates a round publishes at its deadline (default: half)")
    add("--deadline", type=float, default=60.0, help="seconds a round (async: a task) stays open (default 60)")
    add("--max-staleness", type=int, default=10, help="async: oldest accepted base, in versions (default 10)")
    add("--dropout", type=float, default=0.0, help="probability that a selected device never uploads")
    add("--stragglers", type=float, default=0.0, help="fraction of devices that are --slowdown times slower")
    add("--slowdown", type=float, default=5.0, help="how much slower a straggler is (default 5)")
    add("--examples-per-device", type=int, help="draw this many examples per device (examples then repeat)")
    add("--json", type=Path, help="write the summary as JSON here")
    add("--out", type=Path, help="write report.html and report.json into this directory")
    return parser


def settings_from_args(args: argparse.Namespace) -> tuple[RunSettings, FleetBehaviour]:
    """The run's settings and fleet behaviour; ValueError names a bad option."""
    settings = RunSettings(devices=args.devices, rounds=args.rounds, codec=args.codec, strategy=args.strategy,
                           alpha=args.alpha, seed=args.seed, epochs=args.epochs, mode=args.mode,
                           round_size=args.round_size or min(20, args.devices), over_selection=args.over_selection,
                           min_quorum=args.min_quorum, deadline_s=args.deadline, max_staleness=args.max_staleness)
    behaviour = FleetBehaviour(args.dropout, args.stragglers, args.slowdown, args.examples_per_device)
    return settings, behaviour


def scratch_root(min_free: int = 1 << 30) -> str | None:
    """``/dev/shm`` when it has room: the simulated server's files are thrown away, so they need not
    pay for durable writes (every upload, task and round is fsynced); otherwise the default."""
    try:
        return "/dev/shm" if shutil.disk_usage("/dev/shm").free >= min_free else None
    except OSError:
        return None


def load_data(settings: RunSettings) -> Data:
    """The digits data set, split into training and held-out test sets by the run's seed."""
    from fedlite.examples import load_digits_split

    return load_digits_split(settings.seed)


def run_simulation(settings: RunSettings, behaviour: FleetBehaviour, model: Path, progress: Progress | None = None,
                   data: Data | None = None) -> SimulationResult:
    """Run one simulation on the digits data (``data``, or loaded) in a temporary server directory."""
    data = data or load_data(settings)
    with tempfile.TemporaryDirectory(prefix="fedlite-simulate-", dir=scratch_root()) as work:
        shown = {"on_progress": progress.round_progress, "on_round": progress.round_done} if progress else {}
        return Simulation(settings, behaviour, model, Path(work), data=data, **shown).run()


def _plan(settings: RunSettings, behaviour: FleetBehaviour, train_examples: int) -> str:
    unit = "buffers" if settings.mode == "async" else "rounds"
    sampled = sampled_examples(settings, behaviour, train_examples)
    data = (f"a Dirichlet(alpha={settings.alpha:g}) partition of {train_examples} training images" if sampled is None
            else f"{sampled} images each, label mix from Dirichlet(alpha={settings.alpha:g}), repeating across devices")
    return (f"simulating {settings.devices} devices in one process ({data}): {settings.rounds} {settings.mode} {unit} "
            f"of {settings.target} updates, codec {settings.codec}, strategy {settings.strategy}, {settings.epochs} "
            f"local epochs, dropout {behaviour.dropout:g}, stragglers {behaviour.stragglers:g}")


def _print_summary(summary: dict) -> None:
    accuracy = summary["final_accuracy"]
    initial = summary["initial_accuracy"]
    print(f"final accuracy: {'-' if accuracy is None else f'{accuracy:.2%}'} on the held-out digits test set "
          f"after {summary['rounds']} rounds, from {'-' if initial is None else f'{initial:.2%}'} before training "
          f"({describe_target(summary['rounds_to_90'])})")
    print(describe_uplink(summary["uplink_bytes"], summary["fp32_uplink_bytes"], summary["accepted_updates"],
                          summary["bits_per_param"]))
    print("uploads: " + ", ".join(f"{name} {count}" for name, count in sorted(summary["uploads"].items())))
    print(f"time: {summary['seconds']:.1f} s")


def _fail(message: str, status: int) -> int:
    print(f"fedlite simulate: {message}", file=sys.stderr)
    return status


def _write_outputs(args: argparse.Namespace, settings: RunSettings, behaviour: FleetBehaviour,
                   result: SimulationResult, summary: dict) -> None:
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.out:
        lead = (f"{settings.devices} virtual devices against the real server app in one process "
                f"({settings.mode} rounds of {settings.target} updates); the server evaluates every new global "
                "model on held-out test images.")
        html, _ = write_report(args.out, title="FedLite simulation", lead=lead, summary=summary,
                               settings={**settings.resolved(), **vars(behaviour)}, rounds=result.rounds)
        print(f"report: {html}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fedlite simulate``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings, behaviour = settings_from_args(args)
        model, _ = ensure_model("digits_cnn")
        data = load_data(settings)
    except (ValueError, MissingDependencyError, ExampleModelError) as exc:
        return _fail(str(exc), 2)
    print(_plan(settings, behaviour, len(data[1])), flush=True)
    progress = Progress()
    progress.header()
    try:
        result = run_simulation(settings, behaviour, model, progress, data)
    except MissingDependencyError as exc:
        return _fail(str(exc), 2)
    except TimeoutError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    summary = result.summary()
    _print_summary(summary)
    try:
        _write_outputs(args, settings, behaviour, result, summary)
    except OSError as exc:
        return _fail(f"cannot write the results: {exc}", 1)
    return 0
