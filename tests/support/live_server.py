"""``LiveServer``: the real ``fedlite serve`` as a subprocess over TLS on an ephemeral loopback port.

    with LiveServer(model_path, tmp_path / "data", ["--round-size", "3"]) as server:
        token = server.create_token(uses=10)
        requests.get(server.url + "/healthz", verify=server.ca)

``kill()`` sends SIGKILL (crash tests); ``start()`` again restarts on the same data directory
and port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from server.ledger import Ledger
from server.tokens import create_token
from tests.support.certs import ServerCert, issue_server_cert

READY_TIMEOUT_S = 60.0


class LiveServer:
    """A ``fedlite serve`` subprocess; see the module docstring."""

    def __init__(self, model: Path, data_dir: Path, args: list[str] | tuple[str, ...] = (), *,
                 certs: ServerCert | None = None, env: dict[str, str] | None = None) -> None:
        self.model = Path(model)
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.certs = certs or issue_server_cert(self.data_dir.parent / f"{self.data_dir.name}-tls")
        self.env = env
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:41234``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> str:
        """Path of the CA certificate to pass as ``verify=`` to requests."""
        return str(self.certs.ca)

    def command(self, ready_file: Path) -> list[str]:
        return [sys.executable, "-m", "fedlite", "serve", "--model", str(self.model), "--data-dir",
                str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port),
                "--tls-cert", str(self.certs.cert), "--tls-key", str(self.certs.key),
                "--ready-file", str(ready_file), *self.args]

    def start(self) -> LiveServer:
        """Start the server (again) and wait until /healthz answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ready = self.data_dir.parent / f"{self.data_dir.name}-ready.json"
        ready.unlink(missing_ok=True)
        env = {**os.environ, **(self.env or {})}
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(ready), stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self._wait_ready(ready)
        return self

    def _wait_ready(self, ready: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            if ready.exists() and ready.stat().st_size:
                self.port = json.loads(ready.read_text())["port"]
                if self._healthy():
                    return
            time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"server not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", verify=self.ca, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's combined output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop in time); return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """SIGKILL: a crash at an arbitrary point."""
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.kill()
        return self.process.wait()

    def create_token(self, *, uses: int = 1, expires_in: float | None = None) -> str:
        """A fresh enrolment token, written straight into the server's ledger."""
        ledger = Ledger(self.data_dir / "ledger.sqlite3")
        expires = time.time() + expires_in if expires_in is not None else None
        try:
            return ledger.write(lambda conn: create_token(conn, max_uses=uses, expires_at=expires, now=time.time()))
        finally:
            ledger.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
