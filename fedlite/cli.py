"""The ``fedlite`` command: one entry point whose subcommands live in the parts that own them.

Each subcommand module is imported only when that subcommand runs, so ``fedlite device`` works
on a device install that has neither TensorFlow nor the server's dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# name → (module with ``main(argv) -> int``, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("converters.cli", "convert a Keras model into a trainable .tflite model"),
    "serve": ("server.cli", "run the aggregation server"),
    "admin": ("server.admin_cli", "manage enrolment tokens, devices and rounds of a server"),
    "device": ("edge_sdk.cli", "run a device that trains on local data"),
    "demo": ("fedlite.demo", "run the whole loop on this machine: server, devices, rounds"),
    "simulate": ("fedlite.simulate", "simulate many devices in one process"),
}


def _usage() -> str:
    lines = ["usage: fedlite COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run 'fedlite COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``fedlite COMMAND ...`` to the module that owns COMMAND."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from fedlite import __version__

        print(f"fedlite {__version__}")
        return 0
    entry = SUBCOMMANDS.get(args[0])
    if entry is None:
        print(f"fedlite: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(entry[0])
    return int(module.main(args[1:]) or 0)
