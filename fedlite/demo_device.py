"""One device process of ``fedlite demo``: ``edge_sdk.Client`` over HTTPS, paced for a demo.

It is ``fedlite device`` with one difference: a phone or a Raspberry Pi rests 30 s after each
round (``RoundPolicy.after_round_s``) and backs off for ten seconds and more after a failure;
the demo's devices check in again at once and back off for a second, so rounds follow each
other as fast as the devices train. Progress goes to stdout as JSON lines.

    python -m fedlite.demo_device --server URL --state-dir DIR --data FILE --token-file FILE --ca CERT
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from edge_sdk._lazy import MissingDependencyError
from edge_sdk.cli import ProgressPrinter
from edge_sdk.client import Client, ClientConfig, ClientError, RoundPolicy

DEMO_PACE = RoundPolicy(after_round_s=0.0, backoff_base_s=1.0, backoff_max_s=5.0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fedlite.demo_device",
                                     description=__doc__.split("\n\n")[0].replace("``", ""))
    parser.add_argument("--server", required=True, help="https://HOST:PORT")
    parser.add_argument("--state-dir", required=True, type=Path, help="the device's key, caches and journal")
    parser.add_argument("--data", required=True, type=Path, help="the device's training data (.npz with x, y)")
    parser.add_argument("--token-file", required=True, type=Path, help="file holding the enrolment token")
    parser.add_argument("--ca", required=True, help="PEM certificate the server's certificate must chain to")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the device until SIGTERM or SIGINT; 0 when stopped, 1 when the client gave up."""
    args = _parser().parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        config = ClientConfig(server=args.server, state_dir=args.state_dir, data=args.data,
                              token=args.token_file.read_text().strip(), ca_bundle=args.ca, rounds=DEMO_PACE)
        with Client(config, report=ProgressPrinter(sys.stdout, json_lines=True)) as client:
            client.run(stop)
    except (ClientError, MissingDependencyError, OSError) as exc:
        print(f"fedlite demo device: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
