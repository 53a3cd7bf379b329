"""``fedlite serve`` on a ``.keras`` model (converted at start-up) with a generated self-signed
certificate whose printed fingerprint matches the certificate it serves."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server.tls import fingerprint

pytestmark = pytest.mark.slow


def test_keras_model_and_self_signed_certificate(tmp_path: Path, digits_mlp_tflite: Path) -> None:
    keras_model = tmp_path / "digits.keras"
    shutil.copy(digits_mlp_tflite.with_suffix(".keras"), keras_model)
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "fedlite", "serve", "--model", str(keras_model), "--data-dir",
               str(tmp_path / "data"), "--port", "0", "--ready-file", str(ready),
               "--loss", "sparse_categorical_crossentropy", "--optimizer", "sgd"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (ready.exists() and ready.stat().st_size):
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        cert = tmp_path / "data" / "tls" / "server.crt"
        assert info["fingerprint"] == fingerprint(cert.read_bytes())
        served = ssl.get_server_certificate(("127.0.0.1", info["port"])).encode()
        assert fingerprint(served) == info["fingerprint"]
        health = requests.get(info["url"] + "/healthz", verify=str(cert), timeout=10)
        assert health.json()["version"] == 0
        docs = requests.get(info["url"] + "/docs", verify=str(cert), timeout=10)
        assert docs.status_code == 200 and "openapi.json" in docs.text
        assert list((tmp_path / "data" / "converted").glob("digits-*.tflite"))
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert info["fingerprint"] in output
