"""The driver with an in-process server double at the transport seam: enrolment, waits, policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_sdk.client import Client, ClientConfig, ConfigurationError, EligibilityHooks, EligibilityPolicy
from edge_sdk.client.round import NotEligible
from edge_sdk.client.transport import MockTransport, Request, Response, json_response
from edge_sdk.wire.protocol import WaitResponse


class WaitingServer:
    """Enrols anyone and tells every check-in to wait; records the paths asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: Request) -> Response:
        self.paths.append(request.path)
        if request.path == "/v1/enroll":
            return json_response(201, {"device_id": "dev_1", "server_time": 1})
        return json_response(200, {"action": "wait", "retry_after_min": 60, "retry_after_max": 120,
                                   "reason": "no_round"})


def _client(tmp_path: Path, double: WaitingServer, **config) -> Client:
    values = dict(server="https://fl.example", state_dir=tmp_path / "state", data=tmp_path / "data.npz", token="t")
    return Client(ClientConfig(**{**values, **config}), transport=MockTransport(double),
                  hooks=EligibilityHooks(lambda: False, lambda: True, lambda: True))


def test_once_returns_the_servers_wait_and_journals_it(tmp_path: Path) -> None:
    server = WaitingServer()
    with _client(tmp_path, server) as client:
        assert client.run(once=True) == WaitResponse(60, 120, "no_round")
    assert server.paths == ["/v1/enroll", "/v1/checkin"]
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert journal["phase"] == "idle" and journal["note"] == "server: wait (no_round)"


def test_local_requirements_skip_the_checkin(tmp_path: Path) -> None:
    server = WaitingServer()
    with _client(tmp_path, server, eligibility=EligibilityPolicy(require_charging=True)) as client:
        assert client.run(once=True) == NotEligible(("charging",))
    assert server.paths == ["/v1/enroll"]


def test_an_enrolled_state_dir_needs_no_token_but_keeps_its_server(tmp_path: Path) -> None:
    with _client(tmp_path, WaitingServer()) as client:
        client.run(once=True)
    server = WaitingServer()
    with _client(tmp_path, server, token=None) as client:
        client.run(once=True)
        assert client.device_id == "dev_1" and server.paths == ["/v1/checkin"]
    with _client(tmp_path, WaitingServer(), server="https://other.example") as client:
        with pytest.raises(ConfigurationError, match="belongs to server https://fl.example"):
            client.run(once=True)


def test_a_corrupt_journal_is_reported_and_replaced(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "journal.json").write_text('{"phase": "upl')
    events: list[tuple[str, dict]] = []
    config = ClientConfig("https://fl.example", tmp_path / "state", tmp_path / "data.npz", token="t")
    with Client(config, transport=MockTransport(WaitingServer()), report=lambda e, f: events.append((e, f))) as client:
        assert client.run(once=True) == WaitResponse(60, 120, "no_round")
    assert events[0][0] == "error" and "journal.json" in events[0][1]["message"]
