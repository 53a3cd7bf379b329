"""Child processes that are always cleaned up: each in its own process group, all stopped together.

Each child starts a new session, so Ctrl-C in the terminal reaches only the parent, which then
stops every child in order (SIGTERM to its whole group, SIGKILL after a grace period). On Linux a
child is also told to receive SIGTERM if the parent dies without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessGroup:
    """``with ProcessGroup() as children: children.start("server", [...], log=path)``; stops all on exit."""

    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: Sequence[str], *, log: Path, errors: Path | None = None,
              env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start ``argv`` as child ``name``, its stdout going to ``log`` and its stderr to ``errors``
        (default: ``log`` too)."""
        with open(log, "ab") as output, open(errors, "ab") if errors else nullcontext(subprocess.STDOUT) as stderr:
            child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=output, stderr=stderr,
                                     env=dict(env) if env is not None else None, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.children[name] = child
        return child

    def exited(self) -> dict[str, int]:
        """Children that have exited, with their exit status."""
        return {name: child.returncode for name, child in self.children.items() if child.poll() is not None}

    def stop(self, names: Sequence[str] | None = None, grace_s: float = 10.0) -> None:
        """SIGTERM the named children (default: all) and their groups; SIGKILL whatever outlives ``grace_s``."""
        chosen = [self.children[name] for name in (self.children if names is None else names)]
        for child in chosen:
            _signal_group(child, signal.SIGTERM)
        give_up = time.monotonic() + grace_s
        for child in chosen:
            try:
                child.wait(timeout=max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in chosen:
            _signal_group(child, signal.SIGKILL)
            child.wait()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:  # a second Ctrl-C must not cut the clean-up short
            self.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    """Signal the child's process group (the child and anything it started), if it still exists."""
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass
