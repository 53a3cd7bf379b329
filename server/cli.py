"""``fedlite serve``: run the aggregation server over HTTPS."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_sdk._lazy import MissingDependencyError, import_optional
from server.config import ConfigError, build_config, merge, read_config_file
from server.model_source import ModelSourceError, load_model_bytes
from server.operator_auth import OperatorTokenError, read_operator_token

# flag → (section, key, type, help)
FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--model": ("server", "model", str, "trainable .tflite (from fedlite convert) or a .keras model"),
    "--data-dir": ("server", "data_dir", str, "directory for the ledger, blobs and update logs"),
    "--host": ("server", "host", str, "address to listen on (default 127.0.0.1)"),
    "--port": ("server", "port", int, "port to listen on (default 8443; 0 picks a free one)"),
    "--tls-cert": ("server", "tls_cert", str, "PEM certificate (default: a generated self-signed one)"),
    "--tls-key": ("server", "tls_key", str, "PEM private key of --tls-cert"),
    "--eval-data": ("server", "eval_data", str, ".npz with x and y to evaluate each new global model on"),
    "--history": ("server", "history", str, "JSON-lines history file (default DATA_DIR/history.jsonl)"),
    "--operator-token-file": ("server", "operator_token_file", str,
                              "file with a token that /dashboard, /metrics and /docs then require"),
    "--mode": ("rounds", "mode", str, "sync (rounds) or async (FedBuff)"),
    "--round-size": ("rounds", "target", int, "updates that complete a round (async: buffer size K)"),
    "--min-quorum": ("rounds", "min_quorum", int, "fewest updates that still publish at the deadline"),
    "--over-selection": ("rounds", "over_selection", float, "devices selected per round / round size"),
    "--deadline": ("rounds", "deadline_s", float, "seconds a round (async: a task) stays open"),
    "--max-rounds": ("rounds", "max_rounds", int, "stop after this many rounds (0: never)"),
    "--max-staleness": ("rounds", "max_staleness", int, "async: oldest accepted base, in versions"),
    "--retry-min": ("rounds", "retry_min_s", int, "shortest wait told to devices (seconds)"),
    "--retry-max": ("rounds", "retry_max_s", int, "longest wait told to devices (seconds)"),
    "--codec": ("training", "codec", str, "codec preset devices encode updates with"),
    "--weights-encoding": ("training", "weights_encoding", str, "fp32 or fp16 weights for devices"),
    "--epochs": ("training", "epochs", int, "local epochs per task"),
    "--learning-rate": ("training", "learning_rate", float, "device learning rate (default: the model's)"),
    "--norm-bound": ("training", "norm_bound", float, "reject updates with a larger L2 norm"),
    "--strategy": ("aggregation", "strategy", str, "fedavg, fedavgm, fedadam, fedyogi or fedadagrad"),
    "--aggregator": ("aggregation", "aggregator", str, "mean, trimmed_mean or median"),
    "--clip-norm": ("aggregation", "clip_norm", float, "scale updates down to this L2 norm"),
    "--rate": ("devices", "rate_per_s", float, "requests per second allowed per device"),
    "--loss": ("convert", "loss", str, ".keras model: its training loss (e.g. sparse_categorical_crossentropy)"),
    "--optimizer": ("convert", "optimizer", str, ".keras model: device optimizer (sgd, adam, ...)"),
    "--batch-size": ("convert", "batch_size", int, ".keras model: static training batch size"),
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fedlite serve", description="Run the FedLite aggregation server.")
    parser.add_argument("--config", type=Path, help="TOML or JSON config file (flags override it)")
    for flag, (_, _, kind, help_) in FLAGS.items():
        parser.add_argument(flag, type=kind, help=help_)
    parser.add_argument("--ready-file", type=Path, help="write {url, port, fingerprint} here once listening")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(list(argv))


def config_from_args(args: argparse.Namespace) -> Any:
    """The ServerConfig of the file and flags."""
    values = read_config_file(args.config) if args.config else {}
    flags: dict[str, dict[str, Any]] = {}
    for flag, (section, key, _, _) in FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        flags.setdefault(section, {})[key] = value
    return build_config(merge(values, flags))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_with_one_blas_thread(argv: Sequence[str]) -> None:
    """Re-execute this process once with single-threaded BLAS, unless the operator chose a count.

    The server runs numpy on its event loop; multi-threaded BLAS spin-waits between calls and
    steals the CPU that request handling needs (3x lower throughput on 2 cores)."""
    if not any(name in os.environ for name in BLAS_THREADS):
        env = {**os.environ, **{name: "1" for name in BLAS_THREADS}}
        os.execve(sys.executable, [sys.executable, "-m", "server.cli", *argv], env)


def serve(config: Any, *, ready_file: Path | None, log_level: str) -> None:
    """Open the engine and serve it until interrupted."""
    uvicorn = import_optional("uvicorn", "'fedlite[server]'")
    from server.app import create_app
    from server.service import build_engine
    from server.tls import ensure_self_signed, fingerprint

    operator_token = read_operator_token(config.operator_token_file) if config.operator_token_file else None
    model = load_model_bytes(config.model, config.convert, Path(config.data_dir) / "converted")
    engine, reporter = build_engine(config, model)
    cert, key = config.tls_cert, config.tls_key
    if cert is None:
        cert, key = ensure_self_signed(Path(config.data_dir) / "tls", [config.host, "localhost", "127.0.0.1"])
    print_fp = fingerprint(Path(cert).read_bytes())
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    url = f"https://{config.host}:{port}"
    print(f"fedlite serve: {url}  round {engine.rounds.coordinator.round.number}, "
          f"version {engine.rounds.version}\n  TLS certificate SHA-256 {print_fp}", flush=True)
    if ready_file is not None:
        ready_file.write_text(json.dumps({"url": url, "port": port, "fingerprint": print_fp, "pid": os.getpid()}))
    server = uvicorn.Server(uvicorn.Config(
        create_app(engine, operator_token=operator_token), ssl_certfile=str(cert), ssl_keyfile=str(key), log_level=log_level,
        access_log=False, timeout_keep_alive=60, timeout_graceful_shutdown=2, backlog=2048))
    try:
        server.run(sockets=[sock])
    finally:
        reporter.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fedlite serve``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        config = config_from_args(args)
        if not config.model.is_file():
            raise ModelSourceError(f"model file {config.model} does not exist")
        run_with_one_blas_thread(argv)
        serve(config, ready_file=args.ready_file, log_level=args.log_level)
    except (ConfigError, ModelSourceError, MissingDependencyError, OperatorTokenError) as exc:
        print(f"fedlite serve: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"fedlite serve: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
