"""The real FedLite server (engine, routes, storage, evaluation) inside this process.

Devices reach it through ``edge_sdk.client.ASGITransport``: the same Starlette app ``fedlite
serve`` runs, called directly instead of over a socket and TLS. Its data directory is real
(SQLite ledger, blobs, update logs, ``history.jsonl``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge_sdk.client import ASGITransport, Request
from fedlite.runs import RoundRecord, read_rounds
from fedlite.settings import RunSettings

SERVER_HINT = "'fedlite[server]'"
# Simulated devices live faster than real ones (a round takes a fraction of a second), so the
# per-device request rate limit, which guards a real server against misbehaving devices, is lifted.
SIMULATED_DEVICE_RULES = {"rate_per_s": 1e6, "burst": 1e6}


class InProcessServer:
    """``with InProcessServer(model, data_dir, settings, eval_data) as server: server.transport ...``"""

    def __init__(self, model: Path, data_dir: Path, settings: RunSettings, eval_data: Path) -> None:
        from edge_sdk._lazy import import_optional

        import_optional("starlette", SERVER_HINT)
        from server.app import create_app
        from server.config import build_config
        from server.service import build_engine

        values = {"server": {"model": str(model), "data_dir": str(data_dir), "eval_data": str(eval_data)},
                  **settings.server_sections(), "devices": SIMULATED_DEVICE_RULES}
        config = build_config(values)
        self.history = config.history_path
        self.engine, self._reporter = build_engine(config, Path(model).read_bytes())
        self.transport = ASGITransport(create_app(self.engine))

    def create_token(self, uses: int) -> str:
        """An enrolment token for ``uses`` devices, written straight into the ledger (as ``fedlite admin`` does)."""
        from server.tokens import create_token

        return self.engine.ledger.write(lambda conn: create_token(conn, max_uses=uses, expires_at=None,
                                                                    now=time.time(), note="simulation"))

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: the current round, its state and accepted count, the newest version."""
        return self.transport.send(Request("GET", "/healthz")).json()

    def wait_for_round_end(self, number: int, timeout_s: float, poll_s: float = 0.05) -> None:
        """Poll until round ``number`` has ended. The server's timing driver runs only while a request
        is being served, so a round short of its target needs these polls to end at its deadline."""
        give_up = time.monotonic() + timeout_s
        while self.health()["round"] == number:
            if time.monotonic() > give_up:
                raise TimeoutError(f"round {number} did not end within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def record(self, number: int, timeout_s: float = 60.0) -> RoundRecord:
        """Round ``number``'s record once the server has written it (after evaluating the new weights)."""
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            found = [r for r in read_rounds(self.history) if r.round == number]
            if found:
                return found[-1]
            time.sleep(0.01)
        raise TimeoutError(f"the server wrote no record for round {number} within {timeout_s:.0f} s")

    def close(self) -> None:
        """Shut the app down (lifespan), finish pending evaluations, close the storage."""
        try:
            self.transport.close()
        finally:
            self._reporter.close()

    def __enter__(self) -> InProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
