"""``fedlite device``: run a device that trains on local data when the server asks.

Exit status: 0 done or stopped (SIGTERM/SIGINT), 1 a failure that may pass (server unreachable,
round abandoned, disk full), 2 a configuration error (flags, data, CA file, token missing),
3 the server refuses this device (revoked, enrolment token refused). A systemd unit should use
``RestartPreventExitStatus=2 3``.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from edge_sdk._lazy import MissingDependencyError
from edge_sdk.client import (
    Abandoned,
    Client,
    ClientConfig,
    ClientError,
    ConfigurationError,
    DataError,
    DeviceRevokedError,
    EligibilityPolicy,
    EnrolmentError,
    Failed,
    RoundPolicy,
)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_REFUSED = 0, 1, 2, 3
CONDITIONS = ("charging", "unmetered", "idle")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlite device", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="server URL, https://HOST[:PORT]")
    parser.add_argument("--state-dir", required=True, type=Path, help="folder for the key, caches and journal")
    parser.add_argument("--data", required=True, type=Path, help="local data: .npz (x, y), .csv or class folders")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="enrolment token (needed once, at the first start)")
    token.add_argument("--token-file", type=Path, help="file holding the enrolment token")
    parser.add_argument("--ca", help="PEM bundle of CAs to trust instead of the system store")
    parser.add_argument("--pin", help="SHA-256 of the server's public key (hex or base64)")
    parser.add_argument("--label-column", default="label", help="label column of a CSV file (default: label)")
    parser.add_argument("--require", default="", metavar="LIST",
                        help=f"check in only when these hold, comma-separated from {', '.join(CONDITIONS)}")
    parser.add_argument("--once", action="store_true", help="settle one check-in (and its round), then exit")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text lines for people or JSON lines for log collectors")
    pacing = parser.add_argument_group("pacing", "how often the device asks the server for work, in seconds")
    defaults = RoundPolicy()
    pacing.add_argument("--rest-after-round", type=float, default=defaults.after_round_s, metavar="SECONDS",
                        help=f"pause after a finished round before the next check-in "
                             f"(default {defaults.after_round_s:g})")
    pacing.add_argument("--backoff-base", type=float, default=defaults.backoff_base_s, metavar="SECONDS",
                        help=f"after a failure wait up to this long (at random from half of it), twice as long "
                             f"after each further failure (default {defaults.backoff_base_s:g})")
    pacing.add_argument("--backoff-max", type=float, default=defaults.backoff_max_s, metavar="SECONDS",
                        help=f"the longest wait after failures (default {defaults.backoff_max_s:g})")
    return parser


class ProgressPrinter:
    """Formats client events as text lines or JSON lines."""

    def __init__(self, stream: TextIO, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if self.json_lines:
            line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
        else:
            line = f"{time.strftime('%H:%M:%S')} {describe(event, fields)}"
        print(line, file=self.stream, flush=True)


def _checkin_text(f: dict[str, Any]) -> str:
    if f["action"] == "train":
        return f"check-in: selected for round {f['round']}"
    if f["action"] == "wait":
        return f"check-in: wait ({f['reason']})"
    return f"check-in skipped: not {', '.join(f['unmet'])}"


_TEXTS = {
    "enrolled": "enrolled as device {device_id}",
    "download": "downloaded {what}: {bytes} of {total} bytes",
    "data": "local data: {examples} examples from {path}",
    "epoch": "round {round}: epoch {epoch}/{epochs} loss {loss:.4f}",
    "encoded": "round {round}: update encoded, {bytes} bytes",
    "upload": "round {round}: sent {bytes} bytes, update {status}",
    "abandon": "round {round} abandoned: {reason}",
    "wait": "next step in {seconds:.0f} s ({reason})",
    "error": "error while in {phase}: {message}",
}


def describe(event: str, fields: dict[str, Any]) -> str:
    """One human-readable line for a client event."""
    if event == "checkin":
        return _checkin_text(fields)
    template = _TEXTS.get(event)
    return template.format(**fields) if template else f"{event}: {fields}"


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is None:
        return args.token
    try:
        return args.token_file.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the token file {args.token_file}: {exc.strerror}") from None


def _fail(code: int, message: str) -> int:
    print(f"fedlite device: {message}", file=sys.stderr)
    return code


def _config(args: argparse.Namespace) -> ClientConfig:
    required = [name.strip() for name in args.require.split(",") if name.strip()]
    unknown = sorted(set(required) - set(CONDITIONS))
    if unknown:
        raise ConfigurationError(f"--require: unknown condition(s) {unknown}; use {', '.join(CONDITIONS)}")
    if not args.data.exists():
        raise ConfigurationError(f"--data {args.data} does not exist")
    policy = EligibilityPolicy(*(name in required for name in CONDITIONS))
    return ClientConfig(server=args.server, state_dir=args.state_dir, data=args.data, token=_token(args),
                        ca_bundle=args.ca, pin_sha256=args.pin, label_column=args.label_column, eligibility=policy,
                        rounds=_pacing(args))


def _pacing(args: argparse.Namespace) -> RoundPolicy:
    """The round policy of the pacing flags; ConfigurationError naming a bad one."""
    for flag, value, least in (("--rest-after-round", args.rest_after_round, 0.0),
                               ("--backoff-base", args.backoff_base, 0.1), ("--backoff-max", args.backoff_max, 0.1)):
        if not (math.isfinite(value) and value >= least):
            raise ConfigurationError(f"{flag} must be a number of seconds >= {least:g}, got {value:g}")
    if args.backoff_max < args.backoff_base:
        raise ConfigurationError(f"--backoff-max ({args.backoff_max:g}) must not be below --backoff-base "
                                 f"({args.backoff_base:g})")
    return RoundPolicy(after_round_s=args.rest_after_round, backoff_base_s=args.backoff_base,
                       backoff_max_s=args.backoff_max)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """Make SIGTERM and SIGINT set ``stop``; a second one ends the process. The old handlers."""

    def handler(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL)

    return {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fedlite device``; returns the exit status."""
    args = _parser().parse_args(argv)
    stop = threading.Event()
    previous = _stop_on_signals(stop)
    report = ProgressPrinter(sys.stdout, args.log_format == "json")
    try:
        with Client(_config(args), report=report) as client:
            last = client.run(stop, once=args.once)
    except (DeviceRevokedError, EnrolmentError) as exc:
        return _fail(EXIT_REFUSED, str(exc))
    except (ConfigurationError, DataError, MissingDependencyError) as exc:
        return _fail(EXIT_CONFIG, str(exc))
    except ClientError as exc:
        return _fail(EXIT_FAILED, str(exc))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if isinstance(last, Abandoned) and not stop.is_set():
        return _fail(EXIT_FAILED, f"round abandoned: {last.reason}")
    if isinstance(last, Failed) and not stop.is_set():
        return _fail(EXIT_FAILED, last.message)
    return EXIT_OK
