"""The operator token: how it is read and presented, and a real server that enforces it over TLS."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from server.operator_auth import OperatorTokenError, presented_token, read_operator_token
from tests.support.device import TestDevice
from tests.support.live_server import LiveServer

TOKEN = "op-7d1f0c2a9b8e4f6a1c3d5e7f"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_token_is_taken_from_bearer_or_the_basic_password() -> None:
    assert presented_token(f"Bearer {TOKEN}") == TOKEN
    assert presented_token(f"bearer   {TOKEN} ") == TOKEN
    assert presented_token(basic("anyone", TOKEN)) == TOKEN
    assert presented_token(basic("", "pass:with:colons")) == "pass:with:colons"
    assert presented_token("Basic not-base64!") is None
    assert presented_token("Digest abc") is None and presented_token("") is None


def test_the_token_file_must_hold_one_long_token(tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text(f"  {TOKEN}\n")
    assert read_operator_token(good) == TOKEN
    for text, problem in (("short", "at least 16"), ("two tokens of enough length", "without spaces")):
        good.write_text(text)
        with pytest.raises(OperatorTokenError, match=problem):
            read_operator_token(good)
    with pytest.raises(OperatorTokenError, match="cannot read operator token file"):
        read_operator_token(tmp_path / "missing")


def test_serve_refuses_to_start_with_an_unusable_token_file(tmp_path: Path, digits_mlp_tflite: Path) -> None:
    (tmp_path / "token").write_text("short")
    done = subprocess.run([sys.executable, "-m", "fedlite", "serve", "--model", str(digits_mlp_tflite),
                           "--data-dir", str(tmp_path / "data"), "--port", "0",
                           "--operator-token-file", str(tmp_path / "token")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must hold one token of at least 16 characters" in done.stderr


@pytest.mark.slow
def test_a_live_server_guards_operator_pages_and_leaves_devices_alone(tmp_path: Path,
                                                                       digits_mlp_tflite: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    args = ["--operator-token-file", str(tmp_path / "token")]
    with LiveServer(digits_mlp_tflite, tmp_path / "data", args) as live:
        def get(path: str, **headers: str) -> requests.Response:
            return requests.get(live.url + path, headers=headers, verify=live.ca, timeout=10)

        for path in ("/dashboard", "/metrics", "/docs", "/openapi.json"):
            refused = get(path)
            assert refused.status_code == 401, path
            assert refused.headers["WWW-Authenticate"].startswith('Basic realm="FedLite operator"')
            assert refused.json()["error"]["code"] == "operator_unauthorized"
            assert get(path, Authorization="Bearer " + TOKEN[:-1] + "x").status_code == 401
        assert "fedlite_updates_accepted_total" in get("/metrics", Authorization=f"Bearer {TOKEN}").text
        assert "Held-out" in get("/dashboard", Authorization=basic("ops", TOKEN)).text
        assert get("/healthz").status_code == 200
        device = TestDevice(live.url, live.ca)
        assert device.enroll(live.create_token()).status_code == 201
        assert device.checkin().status_code == 200
