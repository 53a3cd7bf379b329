"""Devices against the REAL server over TLS on loopback: rounds, interception, tampering, crashes.

Each test starts its own ``fedlite serve`` (tests/support LiveServer, ~0.6 s) and checks the
outcome in the server's own ledger, not only in what the device says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge_sdk.client import (
    Abandoned,
    Client,
    ClientConfig,
    DiskFullError,
    EligibilityHooks,
    RetryPolicy,
    RoundPolicy,
    TLSError,
    Uploaded,
)
from edge_sdk.client.https import HTTPSConfig, HTTPSTransport, PinMismatchError, spki_sha256
from edge_sdk.client.transport import Request, Response, Transport
from tests.conftest import REPO, subprocess_env
from tests.edge_sdk.client.helpers import accepted_updates, enrolled_devices, ledger_rows, write_digits
from tests.support.live_server import LiveServer

FAST_ROUNDS = RoundPolicy(backoff_base_s=0.2, backoff_max_s=1.0, after_round_s=0.1)
FAST_RETRIES = RetryPolicy(attempts=4, base_delay_s=0.1, max_delay_s=0.5)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits(tmp_path_factory.mktemp("data") / "digits.npz")


@pytest.fixture
def server(digits_cnn_tflite: Path, tmp_path: Path):
    with LiveServer(digits_cnn_tflite, tmp_path / "server", ["--round-size", "1"]) as live:
        yield live


def _config(server: LiveServer, tmp_path: Path, data: Path, **overrides) -> ClientConfig:
    values = dict(server=server.url, state_dir=tmp_path / "device", data=data, token=server.create_token(),
                  ca_bundle=server.ca, rounds=FAST_ROUNDS, retry=FAST_RETRIES)
    return ClientConfig(**{**values, **overrides})


def _run_once(config: ClientConfig, **kwargs):
    with Client(config, hooks=EligibilityHooks.always(), **kwargs) as client:
        return client.run(once=True), client.device_id


def _journal(state_dir: Path) -> dict:
    return json.loads((state_dir / "journal.json").read_text())


def test_a_round_over_tls_with_a_pinned_key(server: LiveServer, tmp_path: Path, digits: Path) -> None:
    pin = spki_sha256(_der(server.certs.cert)).hex()
    events: list[tuple[str, dict]] = []
    config = _config(server, tmp_path, digits, pin_sha256=pin)
    last, device_id = _run_once(config, report=lambda event, fields: events.append((event, fields)))
    assert last == Uploaded("accepted")
    assert [(d, r) for d, r, _ in accepted_updates(server)] == [(device_id, 1)]
    names = [event for event, _ in events]
    assert names[:3] == ["enrolled", "checkin", "download"] and "epoch" in names and names[-1] == "upload"
    state = config.state_dir
    assert list((state / "updates").iterdir()) == [] and len(list((state / "residuals").iterdir())) == 1
    assert _journal(state)["phase"] == "idle"


def _der(pem_path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)


@pytest.mark.parametrize("attack", ["foreign_ca", "foreign_pin"])
def test_an_intercepting_certificate_is_refused(attack: str, server: LiveServer, tmp_path: Path, digits: Path,
                                                 rogue_pki) -> None:
    if attack == "foreign_ca":  # the device trusts only a CA that did not sign the server's certificate
        config, error = _config(server, tmp_path, digits, ca_bundle=str(rogue_pki.ca)), TLSError
    else:  # a trusted CA, but the pinned key is another one
        pin = spki_sha256(_der(rogue_pki.cert)).hex()
        config, error = _config(server, tmp_path, digits, pin_sha256=pin), PinMismatchError
    with pytest.raises(error):
        _run_once(config)
    assert enrolled_devices(server) == 0


def test_a_tampered_model_is_refused_and_nothing_corrupt_is_kept(server: LiveServer, tmp_path: Path,
                                                                 digits: Path) -> None:
    (blob,) = (server.data_dir / "blobs" / "models").glob("*.tflite")
    original = blob.read_bytes()
    blob.write_bytes(original[:1000] + bytes([original[1000] ^ 0xFF]) + original[1001:])
    config = _config(server, tmp_path, digits)
    last, device_id = _run_once(config)
    assert isinstance(last, Abandoned) and "failed verification" in last.reason
    assert list((config.state_dir / "models").iterdir()) == []
    assert accepted_updates(server) == []
    blob.write_bytes(original)
    last, _ = _run_once(config)
    assert last == Uploaded("accepted") and len(accepted_updates(server, device_id)) == 1


class RestartServerOnFirstUpload(Transport):
    """Passes requests through; the first upload finds the server killed (it restarts 0.3 s later)."""

    def __init__(self, inner: Transport, server: LiveServer) -> None:
        self.inner, self.server, self.uploads = inner, server, 0
        self.restarted = threading.Event()

    def send(self, request: Request) -> Response:
        if request.method == "PUT":
            self.uploads += 1
            if self.uploads == 1:
                self.server.kill()
                threading.Timer(0.3, lambda: (self.server.start(), self.restarted.set())).start()
        return self.inner.send(request)

    def close(self) -> None:
        self.inner.close()


def test_the_server_restarting_during_the_upload(server: LiveServer, tmp_path: Path, digits: Path) -> None:
    config = _config(server, tmp_path, digits)
    with RestartServerOnFirstUpload(HTTPSTransport(HTTPSConfig(server.url, server.ca)), server) as transport:
        last, device_id = _run_once(config, transport=transport)
    assert transport.restarted.wait(30)
    assert last == Uploaded("accepted") and transport.uploads >= 2
    assert len(accepted_updates(server, device_id)) == 1


def _device_command(server: LiveServer, state_dir: Path, data: Path, token: str) -> list[str]:
    return [sys.executable, "-m", "fedlite", "device", "--server", server.url, "--ca", server.ca, "--token", token,
            "--data", str(data), "--state-dir", str(state_dir), "--once", "--log-format", "json"]


# Runs the real CLI, but the process dies by SIGKILL the moment the server has acknowledged the
# upload, before the device could journal it: the worst moment for a crash.
CRASH_AFTER_ACK = """
import os, signal, sys
from edge_sdk.client import api
upload = api.ServerAPI.upload
def upload_then_die(self, path, body):
    upload(self, path, body)
    os.kill(os.getpid(), signal.SIGKILL)
api.ServerAPI.upload = upload_then_die
from edge_sdk.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_sigkill_after_the_server_accepted_is_not_uploaded_twice(server: LiveServer, tmp_path: Path,
                                                                 digits: Path) -> None:
    state_dir = tmp_path / "device"
    command = _device_command(server, state_dir, digits, server.create_token())
    crashed = subprocess.run([sys.executable, "-c", CRASH_AFTER_ACK, *command[4:]], capture_output=True,
                             text=True, env=subprocess_env(), cwd=REPO)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    journal = _journal(state_dir)
    assert journal["phase"] == "upload"
    ((device_id, _, body_sha256),) = accepted_updates(server)
    assert body_sha256 == journal["update_sha256"]  # the server holds exactly the journaled bytes
    resumed = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    uploads = [e for e in _events(resumed.stdout) if e["event"] == "upload"]
    assert [e["status"] for e in uploads] == ["duplicate"]
    assert accepted_updates(server) == [(device_id, 1, body_sha256)]
    assert list((state_dir / "updates").iterdir()) == []


def test_sigkill_mid_round_then_restart_finishes_the_round_once(digits_cnn_tflite: Path, tmp_path: Path,
                                                                digits: Path) -> None:
    args = ["--round-size", "1", "--epochs", "30"]  # about a second of training to land in
    with LiveServer(digits_cnn_tflite, tmp_path / "server", args) as server:
        state_dir = tmp_path / "device"
        command = _device_command(server, state_dir, digits, server.create_token())
        device = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env=subprocess_env(), cwd=REPO)
        for line in device.stdout:
            if json.loads(line)["event"] == "epoch":
                device.kill()
                break
        assert device.wait(30) == -signal.SIGKILL
        assert _journal(state_dir)["phase"] == "train"
        resumed = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), cwd=REPO)
        assert resumed.returncode == 0, resumed.stderr
        statuses = [e["status"] for e in _events(resumed.stdout) if e["event"] == "upload"]
        assert statuses == ["accepted"]
        assert len(accepted_updates(server)) == 1


@pytest.fixture
def small_disk(tmp_path: Path, digits_cnn_tflite: Path):
    """A tmpfs a few models large: a real full disk (needs root and mount; skipped where not permitted)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    size_kib = 8 * digits_cnn_tflite.stat().st_size // 1024 + 1024
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()} (test_state.py simulates ENOSPC instead)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_stops_the_device_and_keeps_its_state(server: LiveServer, tmp_path: Path, digits: Path,
                                                          small_disk: Path, digits_cnn_tflite: Path) -> None:
    filler = small_disk / "filler"
    stat = os.statvfs(small_disk)
    room_left = digits_cnn_tflite.stat().st_size // 2  # less than the model needs
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - room_left))
    config = _config(server, tmp_path, digits, state_dir=small_disk / "device")
    with pytest.raises(DiskFullError, match="no space left"):
        _run_once(config)
    journal = _journal(config.state_dir)
    assert journal["phase"] == "download" and journal["task"]["round"] == 1
    assert (config.state_dir / "device.json").exists() and not list(config.state_dir.rglob(".*.tmp"))
    filler.unlink()
    last, device_id = _run_once(config)
    assert last == Uploaded("accepted") and len(accepted_updates(server, device_id)) == 1


def test_a_round_on_the_legacy_runtime(server: LiveServer, tmp_path: Path, digits: Path) -> None:
    """A 32-bit Raspberry Pi's stack: tflite-runtime 2.14 with numpy < 2, no TensorFlow."""
    legacy = os.environ.get("FEDLITE_LEGACY_PYTHON")
    if not legacy:
        pytest.skip("FEDLITE_LEGACY_PYTHON is not set (make test sets it to .venv-legacy/bin/python)")
    command = [legacy, *_device_command(server, tmp_path / "device", digits, server.create_token())[1:]]
    done = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), cwd=REPO)
    assert done.returncode == 0, done.stderr
    events = _events(done.stdout)
    assert [e["status"] for e in events if e["event"] == "upload"] == ["accepted"]
    assert len(accepted_updates(server)) == 1
    ((runtime,),) = ledger_rows(server, "SELECT runtime FROM devices")  # the only enrolled device
    assert runtime.startswith("tflite-runtime 2.14")
