"""The real server (uvicorn, TLS, a subprocess) driven by real signed HTTPS device requests."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from edge_sdk.model import TrainableModel
from edge_sdk.signing import DeviceKey, sign_request
from edge_sdk.wire import decode_weights
from fedlite.examples import load_digits_split
from tests.support.device import TestDevice, train_update
from tests.support.live_server import LiveServer
from tests.support.pages import table_rows, visible_text

pytestmark = pytest.mark.slow
ROUND_SIZE = 3


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict:
    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    path = tmp_path_factory.mktemp("eval") / "eval.npz"
    np.savez(path, x=x_test, y=y_test)
    order = np.argsort(y_train, kind="stable")  # label-sorted shards: non-IID devices
    shards = np.array_split(order, 4)
    return {"eval": path, "shards": [(x_train[s], y_train[s]) for s in shards]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, digits_mlp_tflite: Path, digits: dict):
    root = tmp_path_factory.mktemp("live")
    args = ["--round-size", str(ROUND_SIZE), "--min-quorum", "2", "--deadline", "300", "--retry-min", "0",
            "--retry-max", "1", "--eval-data", str(digits["eval"]), "--codec", "int8", "--rate", "1000"]
    with LiveServer(digits_mlp_tflite, root / "data", args) as server:
        yield server


@pytest.fixture(scope="module")
def devices(live: LiveServer) -> list[TestDevice]:
    token = live.create_token(uses=5)
    fleet = [TestDevice(live.url, live.ca) for _ in range(4)]
    for device in fleet:
        assert device.enroll(token).status_code == 201
    return fleet


def fetch_task_inputs(device: TestDevice, task: dict, specs) -> tuple[bytes, dict]:
    model = device.request("GET", task["model"]["url"])
    assert model.status_code == 200
    assert hashlib.sha256(model.content).hexdigest() == task["model"]["sha256"]
    weights = device.request("GET", task["weights"]["url"])
    assert weights.status_code == 200
    assert hashlib.sha256(weights.content).hexdigest() == task["weights"]["sha256"]
    assert weights.headers["X-FedLite-Sha256"] == task["weights"]["sha256"]
    return model.content, decode_weights(weights.content, specs)[1]


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def health(live: LiveServer) -> dict:
    return requests.get(live.url + "/healthz", verify=live.ca, timeout=5).json()


def test_rounds_of_real_training_improve_held_out_accuracy(live, devices, digits, digits_mlp_tflite) -> None:
    model = TrainableModel(digits_mlp_tflite)
    for round_index in range(4):
        tasks = []
        for device in devices:
            answer = device.checkin()
            assert answer.status_code == 200, answer.text
            assert answer.json()["action"] == "train"  # 4 = ceil(3 × 1.3) devices are selected
            tasks.append(answer.json()["task"])
        statuses = []
        for device, task, (x, y) in zip(devices, tasks, digits["shards"]):
            _, base = fetch_task_inputs(device, task, model.manifest.weights)
            body = train_update(model, task, base, x, y, seed=round_index)
            statuses.append(device.upload(task["upload"]["url"], body).status_code)
        assert statuses == [202] * ROUND_SIZE + [409]  # the over-selected straggler is too late
        assert health(live)["version"] == round_index + 1
    history_path = live.data_dir / "history.jsonl"

    def accuracy_by_version() -> dict | None:
        records = [json.loads(line) for line in history_path.read_text().splitlines()]
        accuracy = {r["version"]: r["eval"]["accuracy"] for r in records if r.get("eval")}
        return accuracy if 4 in accuracy else None

    accuracy = wait_for(accuracy_by_version)
    assert accuracy[4] > accuracy[0] + 0.3, accuracy
    rounds = [json.loads(line) for line in history_path.read_text().splitlines()]
    assert [r["accepted"] for r in rounds if r.get("outcome") == "published"] == [ROUND_SIZE] * 4
    metrics = requests.get(live.url + "/metrics", verify=live.ca, timeout=5).text
    assert 'fedlite_updates_rejected_total{reason="round_closed"} 4' in metrics
    rows = table_rows(requests.get(live.url + "/dashboard", verify=live.ca, timeout=5).text)[1:]
    assert [row[3] for row in rows] == ["3 / 4"] * 4  # accepted / selected, newest first
    assert [row[5] for row in rows] == ["round closed 1"] * 3 + ["–"]  # a straggler counts in the next round


def test_replayed_forged_unsigned_and_stale_requests_are_refused(live, devices) -> None:
    device = devices[0]
    body = json.dumps({"eligibility": {"charging": False, "unmetered": True, "idle": True}, "model_sha256": None,
                       "weights_version": None, "sdk_version": "0.1.0", "runtime": "test"}).encode()
    url = live.url + "/v1/checkin"

    def send(headers: dict, data: bytes = body) -> requests.Response:
        return requests.post(url, data=data, verify=live.ca, timeout=10,
                             headers={"Content-Type": "application/json", **headers})

    signed = sign_request(device.key, "POST", "/v1/checkin", body, device.device_id)
    assert send(signed).status_code == 200
    cases = {
        "replayed_nonce": (signed, body),
        "missing_signature": ({}, body),
        "invalid_signature": (sign_request(DeviceKey.generate(), "POST", "/v1/checkin", body, device.device_id), body),
        "stale_timestamp": (sign_request(device.key, "POST", "/v1/checkin", body, device.device_id,
                                         now=time.time() - 400), body),
        "unknown_device": (sign_request(device.key, "POST", "/v1/checkin", body, "dev_nobody"), body),
    }
    tampered = sign_request(device.key, "POST", "/v1/checkin", body, device.device_id)
    cases["invalid_signature_body"] = (tampered, body.replace(b"false", b"true "))
    for expected, (headers, data) in cases.items():
        answer = send(headers, data)
        assert answer.status_code == 401, (expected, answer.text)
        assert answer.json()["error"]["code"] == expected.removesuffix("_body")


def test_identical_retry_is_a_no_op_and_different_body_conflicts(live, devices, digits, digits_mlp_tflite) -> None:
    model = TrainableModel(digits_mlp_tflite)
    device = devices[1]
    task = device.checkin().json()["task"]
    _, base = fetch_task_inputs(device, task, model.manifest.weights)
    x, y = digits["shards"][1]
    body = train_update(model, task, base, x, y)
    before = health(live)
    assert device.upload(task["upload"]["url"], body).json()["status"] == "accepted"
    again = device.upload(task["upload"]["url"], body)
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    other = train_update(model, task, base, x[:64], y[:64])
    conflict = device.upload(task["upload"]["url"], other)
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "update_conflict")
    assert device.checkin().json()["reason"] == "already_participated"
    assert health(live) == {**before, "accepted": before["accepted"] + 1}


def test_bad_uploads_get_4xx_and_change_nothing(live, devices) -> None:
    device = devices[2]
    task = device.checkin().json()["task"]
    url = task["upload"]["url"]
    cases = [
        (b"not a bundle", 400, "malformed_update"),
        (b"\0" * (task["upload"]["max_bytes"] + 1), 413, "payload_too_large"),
    ]
    for body, status, code in cases:
        answer = device.upload(url, body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    other = devices[3].upload(url, b"x")  # someone else's task
    assert (other.status_code, other.json()["error"]["code"]) == (404, "unknown_task")
    gzip = device.request("PUT", url, b"x", headers={"Content-Encoding": "gzip"})
    assert (gzip.status_code, gzip.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert device.checkin().json()["task"]["task_id"] == task["task_id"]  # the task is still open


def test_model_download_is_cacheable_and_ranged(live, devices) -> None:
    device = devices[0]
    sha = hashlib.sha256(live.model.read_bytes()).hexdigest()
    full = device.request("GET", f"/v1/models/{sha}")
    assert full.headers["ETag"] == f'"{sha}"' and "immutable" in full.headers["Cache-Control"]
    assert device.request("GET", f"/v1/models/{sha}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    part = device.request("GET", f"/v1/models/{sha}", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, full.content[10:20])
    assert device.request("GET", f"/v1/models/{sha}", headers={"Range": "bytes=99999999-"}).status_code == 416
    assert device.request("GET", f"/v1/models/{'0' * 64}").json()["error"]["code"] == "unknown_model"
    assert device.request("GET", "/v1/weights/999?encoding=fp32").json()["error"]["code"] == "unknown_weights"
    assert device.request("GET", "/v1/weights/0?encoding=int3").json()["error"]["code"] == "invalid_query"
    fp16 = device.request("GET", "/v1/weights/0?encoding=fp16&since=0")
    assert fp16.headers["X-FedLite-Sha256"] == hashlib.sha256(fp16.content).hexdigest()


def test_operator_endpoints(live) -> None:
    metrics = requests.get(live.url + "/metrics", verify=live.ca, timeout=5).text
    assert "# TYPE fedlite_updates_accepted_total counter" in metrics
    assert 'fedlite_requests_total{route="/healthz",status="200"}' in metrics
    page = requests.get(live.url + "/dashboard", verify=live.ca, timeout=5).text
    assert "<meta http-equiv=refresh" in page and "Held-out accuracy" in visible_text(page)
    assert requests.get(live.url + "/openapi.json", verify=live.ca, timeout=5).json()["paths"]["/v1/checkin"]


def test_enrolment_tokens_and_revocation(live) -> None:
    single = live.create_token(uses=1)
    first, second = TestDevice(live.url, live.ca), TestDevice(live.url, live.ca)
    assert first.enroll(single).status_code == 201
    assert first.enroll(single).status_code == 200  # same key again: idempotent, no use consumed
    refused = second.enroll(single)
    assert (refused.status_code, refused.json()["error"]["message"]) == (403, "enrolment token is used up")
    expired = live.create_token(uses=5, expires_in=-1)
    assert second.enroll(expired).json()["error"]["code"] == "invalid_token"
    admin = [sys.executable, "-m", "fedlite", "admin", "--data-dir", str(live.data_dir)]
    subprocess.run([*admin, "device", "revoke", first.device_id], check=True, capture_output=True)
    answer = wait_for(lambda: (r := first.checkin()).status_code == 403 and r.json())
    assert answer["error"]["code"] == "device_revoked"
    listing = subprocess.run([*admin, "device", "list"], check=True, capture_output=True, text=True).stdout
    assert f"{first.device_id}" in listing and "REVOKED" in listing
