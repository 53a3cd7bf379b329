"""Property tests against the running server: hostile input only ever gets a 4xx JSON error (or a
legitimate answer), never a 500, and a refused request changes no server state."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_sdk.signing import DeviceKey, sign_request
from edge_sdk.wire import encode_update, read_manifest
from tests.support.device import CHECKIN, TestDevice
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow
UPLOADERS = 60
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
STATE_QUERIES = {
    "devices": "SELECT device_id, revoked FROM devices ORDER BY device_id",
    "tokens": "SELECT token, uses, revoked FROM tokens ORDER BY token",
    "tasks": "SELECT task_id FROM tasks ORDER BY task_id",
    "updates": "SELECT task_id, body_sha256 FROM updates ORDER BY task_id",
    "rounds": "SELECT round, outcome FROM rounds ORDER BY round",
    "versions": "SELECT version FROM versions ORDER BY version",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, digits_mlp_tflite: Path):
    root = tmp_path_factory.mktemp("fuzz")
    with LiveServer(digits_mlp_tflite, root / "data", ["--round-size", "100", "--rate", "100000"]) as server:
        token = server.create_token(uses=UPLOADERS + 1)
        device = TestDevice(server.url, server.ca)
        assert device.enroll(token).status_code == 201
        uploaders = [TestDevice(server.url, server.ca) for _ in range(UPLOADERS)]
        for uploader in uploaders:
            assert uploader.enroll(token).status_code == 201
        tasks = [(uploader, uploader.checkin().json()["task"]) for uploader in uploaders]
        specs = read_manifest(digits_mlp_tflite.read_bytes()).trainable_weights
        yield server, device, tasks, specs


def snapshot(server: LiveServer) -> dict:
    with sqlite3.connect(server.data_dir / "ledger.sqlite3") as conn:
        state = {name: conn.execute(sql).fetchall() for name, sql in STATE_QUERIES.items()}
    state["health"] = requests.get(server.url + "/healthz", verify=server.ca, timeout=10).json()
    return state


def assert_refused(answer: requests.Response, *allowed: int) -> None:
    assert 400 <= answer.status_code < 500 or answer.status_code in allowed, (answer.status_code, answer.text)
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert set(error) == {"code", "message"} and error["code"] and error["message"]


def mutated_checkin(draw_value, data: st.DataObject) -> dict:
    body = json.loads(json.dumps(CHECKIN))
    kind = data.draw(st.sampled_from(["drop", "add", "retype", "nested"]))
    key = data.draw(st.sampled_from(sorted(body)))
    if kind == "drop":
        del body[key]
    elif kind == "add":
        body[data.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in body))] = draw_value
    elif kind == "retype":
        body[key] = draw_value
    else:
        body["eligibility"][data.draw(st.sampled_from(["charging", "idle", "x"]))] = draw_value
    return body


@FUZZ
@given(value=json_values, data=st.data())
def test_signed_checkin_with_hostile_json(env, value, data) -> None:
    server, device, _, _ = env
    before = snapshot(server)
    body = mutated_checkin(value, data) if data.draw(st.booleans()) else value
    answer = device.post_json("/v1/checkin", body)
    assert_refused(answer, 200)
    if answer.status_code != 200:
        assert snapshot(server) == before


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_raw_bytes_to_json_endpoints(env, body, content_type) -> None:
    server, device, _, _ = env
    before = snapshot(server)
    for target, signed in (("/v1/checkin", True), ("/v1/enroll", False)):
        answer = device.request("POST", target, body, signed=signed, content_type=content_type or None)
        assert_refused(answer)
    assert snapshot(server) == before


@FUZZ
@given(position=st.integers(0, 600) | st.integers(0, 10**6), value=st.integers(0, 255), fix_crc=st.booleans(),
       truncate=st.booleans())
def test_corrupted_update_bundles(env, position, value, fix_crc, truncate) -> None:
    """A mutation with a repaired checksum may still be a valid update: then it is accepted once
    (and the next task is used); anything else is refused without a state change."""
    import numpy as np

    server, _, tasks, specs = env
    uploader, task = tasks[0]
    delta = {s.name: np.full(s.shape, 0.01, np.float32) for s in specs}
    meta = {"task_id": task["task_id"], "round": task["round"], "base_version": task["base_version"],
            "num_examples": 10, "metrics": {}}
    body = bytearray(encode_update(delta, "int8", seed=1, rotation_seed=2, meta=meta)[0])
    index = position % len(body)
    if truncate:
        del body[index:]
    elif body[index] != value:
        body[index] = value
    else:
        body += b"\0"
    if fix_crc and len(body) > 8:
        body[-4:] = zlib.crc32(bytes(body[:-4])).to_bytes(4, "little")
    before = snapshot(server)
    answer = uploader.upload(task["upload"]["url"], bytes(body))
    assert_refused(answer, 202)
    if answer.status_code == 202:
        assert answer.json()["status"] == "accepted"
        tasks.pop(0)
    else:
        assert snapshot(server) == before


@FUZZ
@given(headers=st.dictionaries(
    st.sampled_from(["X-FedLite-Device", "X-FedLite-Timestamp", "X-FedLite-Nonce", "X-FedLite-Signature"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=90), max_size=4))
def test_garbage_signing_headers(env, headers) -> None:
    server, device, _, _ = env
    before = snapshot(server)
    signed = sign_request(device.key, "POST", "/v1/checkin", b"{}", device.device_id)
    answer = requests.post(server.url + "/v1/checkin", data=b"{}", headers={**signed, **headers},
                           verify=server.ca, timeout=10)
    assert_refused(answer, 200) if headers == {} else assert_refused(answer)
    assert snapshot(server) == before


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
       path=st.text(alphabet="abcdefv0123456789/_-.%?=&", max_size=40))
def test_unknown_routes_and_methods(env, method, path) -> None:
    server, device, _, _ = env
    before = snapshot(server)
    answer = device.request(method, "/v1/" + path, b"")
    assert answer.status_code != 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["error"]["code"]
    assert snapshot(server) == before


def test_oversize_json_and_enrolment_without_proof(env) -> None:
    server, device, _, _ = env
    before = snapshot(server)
    huge = device.post_json("/v1/checkin", {"runtime": "x" * 10_000})
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")
    stranger = TestDevice(server.url, server.ca, DeviceKey.generate())
    body = json.dumps({"token": "tok_x", "public_key": device.key.public_key_b64, "platform": "p",
                       "sdk_version": "1", "runtime": "r"}).encode()
    hijack = stranger.request("POST", "/v1/enroll", body, content_type="application/json")
    assert (hijack.status_code, hijack.json()["error"]["code"]) == (401, "invalid_signature")
    assert snapshot(server) == before


def test_decompression_bomb_in_an_update_is_refused(env) -> None:
    import dataclasses
    import zlib

    import numpy as np

    from edge_sdk.wire.bundle import KIND_UPDATE, read_bundle, write_bundle

    server, _, tasks, specs = env
    uploader, task = tasks[0]
    meta = {"task_id": task["task_id"], "round": task["round"], "base_version": task["base_version"],
            "num_examples": 10, "metrics": {}}
    delta = {s.name: np.zeros(s.shape, np.float32) for s in specs}
    honest = encode_update(delta, "int8-deflate", seed=1, rotation_seed=2, meta=meta)[0]
    _, records = read_bundle(honest, KIND_UPDATE)
    deflated = next(i for i, r in enumerate(records) if r.encoding.deflate)
    records[deflated] = dataclasses.replace(records[deflated], payload=zlib.compress(b"\0" * 4_000_000, 9))
    bomb = write_bundle(KIND_UPDATE, meta, records)
    assert len(bomb) < task["upload"]["max_bytes"]
    before = snapshot(server)
    answer = uploader.upload(task["upload"]["url"], bomb)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_update")
    assert "inflate" in answer.json()["error"]["message"]
    assert snapshot(server) == before
