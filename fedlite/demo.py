"""``fedlite demo``: the whole federated loop on this machine, over real HTTPS on loopback.

It converts the example digits CNN (once; the result is cached), generates a self-signed
certificate, starts ``fedlite serve`` and one device process per device, each holding a
Dirichlet label-skewed share of the digits training set in its own folder, and follows the
rounds: a progress bar per round and a table of round, participants, held-out accuracy and loss,
and uplink bytes. The server evaluates each new global model on the test images, which never
leave it; the devices send only encoded weight deltas. At the end it prints the final accuracy,
the bytes sent against what float32 updates would have cost, and the report's path. Every
process and temporary file it started is gone when it returns, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_sdk._lazy import MissingDependencyError, import_optional
from edge_sdk.runtime import INSTALL_HINT, RUNTIME_CANDIDATES
from fedlite import runs
from fedlite.demo_run import DemoError, DemoRun, Workspace, write_certificate, write_data
from fedlite.model_cache import ExampleModelError, cached_model_path, ensure_model
from fedlite.processes import ProcessGroup
from fedlite.progress import Progress, describe_target, describe_uplink
from fedlite.report import write_report
from fedlite.runs import RoundRecord
from fedlite.settings import DEFAULT_CODEC, RunSettings

DEMO_EPOCHS = 5  # local epochs per round: few rounds to 90% with 10 devices (benchmarks use 1)
MAX_DEVICES = 64  # one process each; larger fleets belong in fedlite simulate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlite demo", description=__doc__.split("\n\n")[0].replace("``", ""))
    add = parser.add_argument
    add("--devices", type=int, default=10, help="device processes (default 10)")
    add("--rounds", type=int, default=20, help="training rounds (default 20)")
    add("--codec", default=DEFAULT_CODEC, help=f"update codec preset (default {DEFAULT_CODEC})")
    add("--strategy", default="fedavg", help="server strategy: fedavg, fedavgm, fedadam, fedyogi, fedadagrad")
    add("--alpha", type=float, default=0.5, help="Dirichlet concentration of the devices' label skew (default 0.5)")
    add("--seed", type=int, default=0, help="seed of the data split and partition (default 0)")
    add("--port", type=int, default=0, help="server port on 127.0.0.1 (default 0: any free port)")
    add("--out", type=Path, default=Path("fedlite-demo"), help="report and logs directory (default ./fedlite-demo)")
    add("--json", type=Path, help="also write the summary as JSON to this file")
    return parser


def check_dependencies() -> None:
    """MissingDependencyError naming the extra to install, before anything starts."""
    import_optional("uvicorn", "'fedlite[server]'")
    import_optional("starlette", "'fedlite[server]'")
    import_optional("sklearn", "'fedlite[demo]'  (scikit-learn holds the digits data)")
    if not any(importlib.util.find_spec(module.partition(".")[0]) for module, _ in RUNTIME_CANDIDATES):
        raise MissingDependencyError(f"no TFLite runtime found; install one with: pip install {INSTALL_HINT}")


def check_port(port: int) -> int:
    """``port`` if 127.0.0.1 can listen on it (0 picks any free port); ValueError saying why not."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ValueError(f"port {port} on 127.0.0.1 is in use; pick another with --port (0: any free port)") from None
    return port


def run_demo(settings: RunSettings, out: Path, port: int,
             progress: Progress) -> tuple[list[RoundRecord], float | None, Path]:
    """The whole run; (the round records, the untrained model's accuracy, the model used). Cleans up
    whatever it started."""
    if not cached_model_path("digits_cnn").is_file():
        print("model: converting the example digits CNN (once: later runs use the cached copy) ...", flush=True)
    model, _ = ensure_model("digits_cnn")
    print(f"model: the example digits CNN, converted, at {model}", flush=True)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in [*logs.glob("*.log"), *logs.glob("*.err")]:
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="fedlite-demo-") as work, ProcessGroup() as children:
        space = Workspace(Path(work), logs)
        print(f"data: {write_data(settings, space)}", flush=True)
        cert, key = write_certificate(space)
        run = DemoRun(settings, space, children, progress)
        url = run.start_server(model, cert, key, port)
        run.start_devices(run.create_token(), cert)
        print(f"server: {url} (self-signed certificate, logs in {logs}); {settings.rounds} rounds of "
              f"{settings.target} updates, codec {settings.codec}, strategy {settings.strategy}", flush=True)
        progress.header()
        rounds = run.follow_rounds(cert, stall_s=max(120.0, settings.deadline_s + 60))
        initial = run.initial_accuracy()
    return rounds, initial, model


def summarise(settings: RunSettings, rounds: list[RoundRecord], initial: float | None, model: Path,
              seconds: float) -> dict[str, Any]:
    """The run's headline numbers (the untrained model's accuracy, then :func:`fedlite.runs.summarise`),
    for ``--json``, the report and the last lines."""
    from edge_sdk.wire.manifest import read_manifest

    specs = read_manifest(model.read_bytes()).trainable_weights
    return {"initial_accuracy": initial,
            **runs.summarise(rounds, devices=settings.devices, trainable_parameters=sum(spec.size for spec in specs),
                             fp32_update_bytes=runs.fp32_update_bytes(specs), seconds=seconds)}


def _fail(message: str, status: int) -> int:
    print(f"fedlite demo: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fedlite demo``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = RunSettings(devices=args.devices, rounds=args.rounds, codec=args.codec, strategy=args.strategy,
                               alpha=args.alpha, seed=args.seed, epochs=DEMO_EPOCHS)
        if settings.devices > MAX_DEVICES:
            raise ValueError(f"--devices {settings.devices}: the demo runs a process per device, at most "
                             f"{MAX_DEVICES}; simulate larger fleets with fedlite simulate")
        check_dependencies()
        port = check_port(args.port)
    except (ValueError, MissingDependencyError) as exc:
        return _fail(str(exc), 2)
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        rounds, initial, model = run_demo(settings, args.out, port, Progress())
    except (MissingDependencyError, ExampleModelError) as exc:
        return _fail(str(exc), 2)
    except (DemoError, OSError) as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted; the server and every device process were stopped", 130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _finish(args, settings, summarise(settings, rounds, initial, model, time.monotonic() - started), rounds)


def _finish(args: argparse.Namespace, settings: RunSettings, summary: dict[str, Any], rounds: list[RoundRecord]) -> int:
    """Write the report (and ``--json``), print the last lines; the exit status."""
    lead = (f"The example digits CNN trained by {settings.devices} device processes over HTTPS on this machine, each "
            "on its own share of the digits training set; the server evaluates every new global model on held-out "
            "test images.")
    try:
        report, _ = write_report(args.out, title="FedLite demo", lead=lead, summary=summary,
                                 settings=settings.resolved(), rounds=rounds)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
    except OSError as exc:
        return _fail(f"cannot write the report: {exc}", 1)
    accuracy, reached = summary["final_accuracy"], summary["rounds_to_90"]
    print(f"final accuracy: {'-' if accuracy is None else f'{accuracy:.2%}'} on the held-out digits test set "
          f"after {summary['rounds']} rounds, {describe_target(reached)} ({summary['seconds']:.0f} s)")
    print(describe_uplink(summary["uplink_bytes"], summary["fp32_uplink_bytes"], summary["accepted_updates"],
                          summary["bits_per_param"]))
    print(f"report: {report.resolve()}")
    return 0
