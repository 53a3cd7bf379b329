"""Run a command (the JVM test run) next to a live FedLite server over TLS on loopback.

    python tools/live_server.py -- java -cp ... org.junit.runner.JUnitCore ...

Starts the real ``fedlite serve`` (``tests.support.live_server.LiveServer``) on the example digits
MLP (converted once by ``fedlite.model_cache`` into the Python tests' cache, build/test-models/),
with a throw-away CA, and inserts after the command's first word the system properties the
interop tests read:

    -Dfedlite.server.url=https://127.0.0.1:PORT   -Dfedlite.server.ca=CA.pem
    -Dfedlite.server.token=TOKEN                  -Dfedlite.server.data=DATA_DIR
    -Dfedlite.server.admin=PYTHON|-m|fedlite|admin|--data-dir|DATA_DIR   (argv joined by "|")
    -Dfedlite.model=MODEL.tflite                  (the served model; its manifest.json beside it)

The server is stopped when the command exits, whatever happened; its log tail is printed if the
command failed. Exit status: the command's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# One update completes a round, so a single JVM device sees its update aggregated at once.
SERVER_ARGS = ["--round-size", "1", "--min-quorum", "1", "--deadline", "120", "--retry-min", "0",
               "--retry-max", "1", "--codec", "rot-1bit", "--rate", "1000"]
TOKEN_USES = 20
COMMAND_TIMEOUT_S = 600


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="digits_mlp", help="example model: a name in fedlite.model_cache.RECIPES")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --")
    return args


def system_properties(server, token: str) -> list[str]:
    admin = [sys.executable, "-m", "fedlite", "admin", "--data-dir", str(server.data_dir)]
    values = {"url": server.url, "ca": server.ca, "token": token, "data": str(server.data_dir), "admin": "|".join(admin)}
    return [f"-Dfedlite.server.{key}={value}" for key, value in values.items()] + [f"-Dfedlite.model={server.model}"]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fedlite.model_cache import ensure_model
    from tests.support.live_server import LiveServer

    model, _ = ensure_model(args.model, REPO / "build" / "test-models")
    with tempfile.TemporaryDirectory(prefix="fedlite-jvm-interop-") as tmp:
        server = LiveServer(model, Path(tmp) / "data", SERVER_ARGS)
        try:
            server.start()
            command = [args.command[0], *system_properties(server, server.create_token(uses=TOKEN_USES)),
                       *args.command[1:]]
            code = run(command)
            if code != 0:
                print(f"--- server log (tail) ---\n{server.log_tail()}", file=sys.stderr)
            return code
        finally:
            server.stop()


def run(command: list[str]) -> int:
    """The command's exit status; a command still running after COMMAND_TIMEOUT_S is killed (status 124)."""
    try:
        return subprocess.run(command, timeout=COMMAND_TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        print(f"{command[0]} did not finish within {COMMAND_TIMEOUT_S} s and was stopped", file=sys.stderr)
        return 124


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
