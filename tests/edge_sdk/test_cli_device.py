"""``fedlite device``: exit statuses, one-line errors, progress output, SIGTERM."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_sdk.cli import _config, _parser, describe, main
from edge_sdk.client import RoundPolicy
from server.admin_cli import main as admin_main
from server.engine import TICK_S
from tests.conftest import REPO, subprocess_env
from tests.edge_sdk.client.helpers import write_digits
from tests.edge_sdk.client.tls_peer import TLSPeer, http_answer
from tests.support.certs import issue_server_cert
from tests.support.live_server import LiveServer


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory):
    return issue_server_cert(tmp_path_factory.mktemp("certs"))


def _args(url: str, ca: Path | str, tmp_path: Path, *extra: str, data: Path | None = None) -> list[str]:
    return ["--server", url, "--ca", str(ca), "--state-dir", str(tmp_path / "device"),
            "--data", str(data or tmp_path / "data.npz"), *extra]


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--once"], "not enrolled yet: give the enrolment token"),
        (["--token", "t", "--require", "sunshine"], "unknown condition(s) ['sunshine']"),
        (["--token-file", "/nonexistent/token"], "cannot read the token file"),
        (["--token", "t", "--pin", "abc"], "public-key pin must be a SHA-256"),
        (["--token", "t", "--data", "/nonexistent/data.npz"], "--data /nonexistent/data.npz does not exist"),
        (["--token", "t", "--rest-after-round", "-1"], "--rest-after-round must be a number of seconds >= 0, got -1"),
        (["--token", "t", "--backoff-max", "nan"], "--backoff-max must be a number of seconds >= 0.1, got nan"),
        (["--token", "t", "--backoff-base", "20", "--backoff-max", "5"],
         "--backoff-max (5) must not be below --backoff-base (20)"),
    ],
)
def test_configuration_errors_exit_2_with_one_line(extra: list[str], message: str, certs, tmp_path: Path,
                                                   capsys) -> None:
    (tmp_path / "data.npz").touch()
    assert main(_args("https://127.0.0.1:9", certs.ca, tmp_path, *extra)) == 2
    assert message in _one_error_line(capsys)


def test_a_bad_server_url_or_ca_file_exits_2(certs, tmp_path: Path, capsys) -> None:
    (tmp_path / "data.npz").touch()
    assert main(_args("http://127.0.0.1:9", certs.ca, tmp_path, "--token", "t")) == 2
    assert "must be https://" in _one_error_line(capsys)
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    assert main(_args("https://127.0.0.1:9", not_pem, tmp_path, "--token", "t")) == 2
    assert "holds no usable PEM certificate" in _one_error_line(capsys)


def test_pacing_flags_set_the_round_policy(tmp_path: Path) -> None:
    (tmp_path / "data.npz").touch()
    base = _args("https://127.0.0.1:9", "ca.pem", tmp_path)
    assert _config(_parser().parse_args(base)).rounds == RoundPolicy()  # a device in the field: 30 s, 10 s .. 15 min
    paced = base + ["--rest-after-round", "0", "--backoff-base", "1", "--backoff-max", "5"]
    assert _config(_parser().parse_args(paced)).rounds == RoundPolicy(after_round_s=0, backoff_base_s=1,
                                                                      backoff_max_s=5)


def test_a_server_failing_with_5xx_exits_1_after_retries(certs, tmp_path: Path, capsys) -> None:
    (tmp_path / "data.npz").touch()
    error = json.dumps({"error": {"code": "internal_error", "message": "boom"}}).encode()
    peer = TLSPeer(certs.cert, certs.key, lambda conn, _: conn.sendall(http_answer(500, error)))
    try:
        assert main(_args(peer.url, certs.ca, tmp_path, "--token", "t", "--once")) == 1
    finally:
        peer.close()
    assert "server answered 500 internal_error: boom" in _one_error_line(capsys)
    assert len(peer.requests) == 4  # the default retry policy: four attempts of the idempotent enrolment


def _waiting_server(conn: ssl.SSLSocket, request: bytes) -> None:
    if request.startswith(b"POST /v1/enroll"):
        conn.sendall(http_answer(201, b'{"device_id": "dev_1", "server_time": 1}'))
    else:
        conn.sendall(http_answer(200, b'{"action": "wait", "retry_after_min": 600, "retry_after_max": 600, '
                                      b'"reason": "no_round"}'))


def test_sigterm_while_waiting_exits_0_promptly(certs, tmp_path: Path) -> None:
    (tmp_path / "data.npz").touch()
    peer = TLSPeer(certs.cert, certs.key, _waiting_server)
    command = [sys.executable, "-m", "fedlite", "device", *_args(peer.url, certs.ca, tmp_path, "--token", "t")]
    device = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=subprocess_env(), cwd=REPO)
    try:
        lines = []
        for line in device.stdout:
            lines.append(line)
            if "next step in" in line:
                break
        sent = time.monotonic()
        device.send_signal(signal.SIGTERM)
        assert device.wait(10) == 0
        assert time.monotonic() - sent < 5
    finally:
        device.kill()
        peer.close()
    assert "enrolled as device dev_1" in lines[0] and "check-in: wait (no_round)" in lines[1]
    assert json.loads((tmp_path / "device" / "journal.json").read_text())["phase"] == "idle"


def test_a_corrupt_journal_is_reported_as_a_line_and_replaced(certs, tmp_path: Path, capsys) -> None:
    (tmp_path / "data.npz").touch()
    (tmp_path / "device").mkdir()
    (tmp_path / "device" / "journal.json").write_text('{"phase": "upl')
    peer = TLSPeer(certs.cert, certs.key, _waiting_server)
    try:
        assert main(_args(peer.url, certs.ca, tmp_path, "--token", "t", "--once")) == 0
    finally:
        peer.close()
    first = capsys.readouterr().out.splitlines()[0]
    assert "error while in resume: journal.json unusable" in first and "starting afresh" in first
    assert json.loads((tmp_path / "device" / "journal.json").read_text())["phase"] == "idle"


@pytest.fixture
def server(digits_cnn_tflite: Path, tmp_path: Path):
    with LiveServer(digits_cnn_tflite, tmp_path / "server", ["--round-size", "1"]) as live:
        yield live


def test_data_of_the_wrong_shape_exits_2_and_keeps_the_round(server: LiveServer, tmp_path: Path, capsys) -> None:
    import numpy as np

    np.savez(tmp_path / "flat.npz", x=np.zeros((10, 64), np.float32), y=np.zeros(10, np.int32))
    args = _args(server.url, server.ca, tmp_path, "--token", server.create_token(), "--once",
                 data=tmp_path / "flat.npz")
    assert main(args) == 2
    assert "flat.npz: examples have shape (64,), the model expects (8, 8, 1)" in _one_error_line(capsys)
    assert json.loads((tmp_path / "device" / "journal.json").read_text())["phase"] == "train"
    write_digits(tmp_path / "flat.npz", 100)  # fixed in place: the same round resumes
    assert main(args) == 0
    assert "update accepted" in capsys.readouterr().out


def test_a_revoked_device_exits_3(server: LiveServer, tmp_path: Path, capsys) -> None:
    data = write_digits(tmp_path / "data.npz", 100)
    args = _args(server.url, server.ca, tmp_path, "--token", server.create_token(), "--once", data=data)
    assert main(args) == 0
    device_id = json.loads((tmp_path / "device" / "device.json").read_text())["device_id"]
    assert admin_main(["--data-dir", str(server.data_dir), "device", "revoke", device_id]) == 0
    time.sleep(5 * TICK_S)  # the server applies operator changes on its next tick
    capsys.readouterr()
    assert main(args) == 3
    assert "403 device_revoked" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("event", "fields", "text"),
    [
        ("epoch", {"round": 3, "epoch": 1, "epochs": 2, "loss": 0.123456}, "round 3: epoch 1/2 loss 0.1235"),
        ("checkin", {"action": "skipped", "unmet": ["charging", "idle"]}, "check-in skipped: not charging, idle"),
        ("upload", {"round": 3, "bytes": 8078, "status": "accepted"}, "round 3: sent 8078 bytes, update accepted"),
        ("future", {"x": 1}, "future: {'x': 1}"),
    ],
)
def test_progress_lines_read_well(event: str, fields: dict, text: str) -> None:
    assert describe(event, fields) == text


def test_help_exits_0(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0 and "--state-dir" in capsys.readouterr().out
