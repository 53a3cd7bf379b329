"""The moving parts of ``fedlite demo``: data folders, certificate, server and device processes, monitor.

Everything a run creates lives in a temporary working directory (server data, device folders,
the certificate) except the logs and the report, which go to the output directory. Processes
belong to a :class:`~fedlite.processes.ProcessGroup`, which the caller closes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fedlite.partition import dirichlet_partition
from fedlite.processes import ProcessGroup
from fedlite.progress import Progress
from fedlite.runs import RoundRecord, initial_accuracy, read_rounds
from fedlite.settings import RunSettings

READY_TIMEOUT_S = 90.0
POLL_S = 0.25
# ``fedlite device`` paced for a demo: a phone or a Raspberry Pi rests 30 s after a round and backs
# off for 10 s and more after a failure; demo devices check in again at once and back off briefly,
# so rounds follow each other as fast as the devices train.
DEMO_PACING = ("--rest-after-round", "0", "--backoff-base", "1", "--backoff-max", "5")
CHILD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why in one line."""


@dataclass(frozen=True)
class Workspace:
    """Where a run's files go: ``work`` is temporary, ``logs`` are kept."""

    work: Path
    logs: Path

    def device_dir(self, index: int) -> Path:
        return self.work / "devices" / f"device-{index:02d}"


def write_data(settings: RunSettings, space: Workspace) -> str:
    """Each device's Dirichlet share of the digits training set in its own folder, the test set for the
    server's evaluation; a one-line description of the split."""
    from fedlite.examples import load_digits_split

    x_train, y_train, x_test, y_test = load_digits_split(settings.seed)
    shares = dirichlet_partition(y_train, settings.devices, settings.alpha, seed=settings.seed)
    for index, share in enumerate(shares, start=1):
        folder = space.device_dir(index)
        folder.mkdir(parents=True)
        np.savez(folder / "data.npz", x=x_train[share], y=y_train[share])
    np.savez(space.work / "heldout.npz", x=x_test, y=y_test)
    sizes = [len(share) for share in shares]
    classes = [len(np.unique(y_train[share])) for share in shares]
    return (f"{settings.devices} devices, Dirichlet(alpha={settings.alpha:g}) label skew: {min(sizes)}-{max(sizes)} "
            f"examples and {min(classes)}-{max(classes)} of 10 digits each; {len(x_test)} test images stay on the server")


def write_certificate(space: Workspace) -> tuple[Path, Path]:
    """A fresh self-signed certificate for 127.0.0.1; (certificate, key)."""
    from server.tls import make_certificate

    folder = space.work / "tls"
    folder.mkdir()
    cert, key = make_certificate("fedlite-demo", ["127.0.0.1", "localhost"], days=1)
    (folder / "server.key").write_bytes(key)
    (folder / "server.key").chmod(0o600)
    (folder / "server.crt").write_bytes(cert)
    return folder / "server.crt", folder / "server.key"


def write_server_config(settings: RunSettings, space: Workspace) -> Path:
    """The settings' server sections as a ``fedlite serve --config`` file (JSON)."""
    path = space.work / "server.json"
    path.write_text(json.dumps(settings.server_sections(), indent=2) + "\n")
    return path


class DemoRun:
    """Starts the server and the devices, then follows the rounds until the last one is evaluated."""

    def __init__(self, settings: RunSettings, space: Workspace, children: ProcessGroup, progress: Progress) -> None:
        self.settings, self.space, self.children, self.progress = settings, space, children, progress
        self.env = {**os.environ, **CHILD_ENV}
        self.url = ""
        self._reported: set[str] = set()

    def start_server(self, model: Path, cert: Path, key: Path, port: int) -> str:
        """Start ``fedlite serve`` over TLS on 127.0.0.1; its URL once it is ready."""
        ready = self.space.work / "ready.json"
        argv = [sys.executable, "-m", "fedlite", "serve", "--model", str(model), "--data-dir", str(self.server_dir),
                "--host", "127.0.0.1", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key),
                "--eval-data", str(self.space.work / "heldout.npz"), "--ready-file", str(ready),
                "--config", str(write_server_config(self.settings, self.space))]
        self.children.start("server", argv, log=self.space.logs / "server.log", env=self.env)
        give_up = time.monotonic() + READY_TIMEOUT_S
        while not (ready.exists() and ready.stat().st_size):
            if "server" in self.children.exited() or time.monotonic() > give_up:
                raise DemoError(f"the server did not start: {self._last_log_line('server')}")
            time.sleep(0.1)
        self.url = json.loads(ready.read_text())["url"]
        return self.url

    @property
    def server_dir(self) -> Path:
        return self.space.work / "server"

    def create_token(self) -> Path:
        """A token enrolling every device, written to a private file (as ``fedlite admin token create`` would)."""
        from server.ledger import Ledger
        from server.tokens import create_token

        ledger = Ledger(self.server_dir / "ledger.sqlite3")
        try:
            token = ledger.write(lambda conn: create_token(conn, max_uses=self.settings.devices, expires_at=None,
                                                           now=time.time(), note="fedlite demo"))
        finally:
            ledger.close()
        path = self.space.work / "token"
        path.write_text(token)
        path.chmod(0o600)
        return path

    def start_devices(self, token: Path, cert: Path) -> None:
        """One ``fedlite device`` process per device folder, logging JSON lines."""
        for index in range(1, self.settings.devices + 1):
            folder = self.space.device_dir(index)
            argv = [sys.executable, "-m", "fedlite", "device", "--server", self.url, "--ca", str(cert),
                    "--state-dir", str(folder / "state"), "--data", str(folder / "data.npz"),
                    "--token-file", str(token), "--log-format", "json", *DEMO_PACING]
            self.children.start(folder.name, argv, log=self.space.logs / f"{folder.name}.log",
                                errors=self.space.logs / f"{folder.name}.err", env=self.env)

    def follow_rounds(self, cert: Path, stall_s: float) -> list[RoundRecord]:
        """Show progress until every round has its record; DemoError if the run stalls or breaks."""
        import requests

        session = requests.Session()
        shown: list[RoundRecord] = []
        last_change = time.monotonic()
        while len(shown) < self.settings.rounds:
            self._check_children()
            fresh = read_rounds(self.server_dir / "history.jsonl")[len(shown):]
            for record in fresh:
                self.progress.round_done(record)
            shown += fresh
            if fresh:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                raise DemoError(f"no round finished in {stall_s:.0f} s; see the logs in {self.space.logs}")
            self._show_progress(session, cert)
            time.sleep(POLL_S)
        return shown

    def initial_accuracy(self) -> float | None:
        """The held-out accuracy of the untrained model, which the server evaluates as it starts."""
        return initial_accuracy(self.server_dir / "history.jsonl")

    def _show_progress(self, session: Any, cert: Path) -> None:
        try:  # verify per request: a session's own setting loses to REQUESTS_CA_BUNDLE in the environment
            health = session.get(self.url + "/healthz", verify=str(cert), timeout=2).json()
        except (OSError, ValueError):  # requests' errors are OSErrors; a busy server can wait for the next poll
            return
        if health.get("state") == "open" and health.get("round", 0) <= self.settings.rounds:
            self.progress.round_progress(health["round"], health.get("accepted", 0), self.settings.target)

    def _check_children(self) -> None:
        exited = self.children.exited()
        if "server" in exited:
            raise DemoError(f"the server stopped (exit status {exited['server']}): {self._last_log_line('server')}")
        if len(exited) == self.settings.devices:
            name = sorted(exited)[0]
            raise DemoError(f"every device stopped; {name}: {self._last_log_line(name)}")
        for name in sorted(set(exited) - self._reported):
            self._reported.add(name)
            self.progress.note(f"{name} stopped (exit status {exited[name]}): {self._last_log_line(name)}")

    def _last_log_line(self, name: str) -> str:
        """The last line a child wrote: to its error log if it has one (devices; the TFLite runtime's
        ``INFO:`` notes skipped), else to its log."""
        for path in (self.space.logs / f"{name}.err", self.space.logs / f"{name}.log"):
            text = path.read_text(errors="replace") if path.exists() else ""
            lines = [line for line in text.strip().splitlines() if not line.startswith("INFO: ")]
            if lines:
                return lines[-1]
        return "no output"
