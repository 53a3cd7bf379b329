"""Model and weights downloads through the transport seam: ranges, resumption, verification, deltas."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.client.api import ServerAPI
from edge_sdk.client.downloads import Downloads
from edge_sdk.client.errors import ConnectError, IntegrityError, RemoteProtocolError
from edge_sdk.client.state import StateDir
from edge_sdk.client.transport import MockTransport, Request, Response
from edge_sdk.wire.protocol import ModelRef, WeightsRef
from edge_sdk.wire.weights import encode_weights
from tests.edge_sdk.client.helpers import make_manifest

MODEL = bytes(range(256)) * 40  # 10 240 bytes
SHA = hashlib.sha256(MODEL).hexdigest()
REF = ModelRef(SHA, len(MODEL), f"/v1/models/{SHA}")
SPECS = make_manifest().weights


class ModelServer:
    """Serves MODEL with Range support; can fail a given request or ignore ranges."""

    def __init__(self, body: bytes = MODEL, fail_at: int | None = None, ranges: bool = True) -> None:
        self.body, self.fail_at, self.ranges = body, fail_at, ranges
        self.ranges_asked: list[str] = []

    def __call__(self, request: Request) -> Response:
        header = request.headers.get("Range", "")
        self.ranges_asked.append(header)
        if len(self.ranges_asked) == self.fail_at:
            raise ConnectError("connection reset")
        if not self.ranges:
            return Response(200, {}, self.body)
        start, end = map(int, re.fullmatch(r"bytes=(\d+)-(\d+)", header).groups())
        return Response(206, {"content-range": f"bytes {start}-{end}/{len(self.body)}"}, self.body[start:end + 1])


def _downloads(tmp_path: Path, handler, range_bytes: int = 4096) -> Downloads:
    return Downloads(StateDir(tmp_path), ServerAPI(MockTransport(handler)), lambda *a, **k: None,
                     range_bytes=range_bytes)


def test_model_arrives_in_ranges_and_is_cached_by_hash(tmp_path: Path) -> None:
    server = ModelServer()
    path = _downloads(tmp_path, server).model(REF)
    assert path.read_bytes() == MODEL and path.name == f"{SHA}.tflite"
    assert server.ranges_asked == ["bytes=0-4095", "bytes=4096-8191", "bytes=8192-10239"]
    assert _downloads(tmp_path, server).model(REF) == path and len(server.ranges_asked) == 3
    assert _downloads(tmp_path, server).cached_model_sha256() == SHA


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path: Path) -> None:
    broken = ModelServer(fail_at=3)
    with pytest.raises(ConnectError):
        _downloads(tmp_path, broken).model(REF)
    assert (tmp_path / "models" / f"{SHA}.part").stat().st_size == 8192
    resumed = ModelServer()
    assert _downloads(tmp_path, resumed).model(REF).read_bytes() == MODEL
    assert resumed.ranges_asked == ["bytes=8192-10239"]


def test_a_server_ignoring_ranges_still_works(tmp_path: Path) -> None:
    assert _downloads(tmp_path, ModelServer(ranges=False)).model(REF).read_bytes() == MODEL


def test_a_short_whole_body_is_refused_not_asked_for_again_and_again(tmp_path: Path) -> None:
    server = ModelServer(MODEL[:5000], ranges=False)
    with pytest.raises(RemoteProtocolError, match="whole body of 5000 bytes, not 10240"):
        _downloads(tmp_path, server).model(REF)
    assert len(server.ranges_asked) == 1 and list((tmp_path / "models").iterdir()) == []


def test_a_tampered_model_is_discarded(tmp_path: Path) -> None:
    tampered = MODEL[:5000] + b"X" + MODEL[5001:]
    with pytest.raises(IntegrityError, match="failed verification"):
        _downloads(tmp_path, ModelServer(tampered)).model(REF)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_wrong_content_range_is_a_protocol_error(tmp_path: Path) -> None:
    def shifted(request: Request) -> Response:
        return Response(206, {"content-range": "bytes 100-4195/10240"}, MODEL[100:4196])

    with pytest.raises(RemoteProtocolError, match="asked for bytes 0-4095"):
        _downloads(tmp_path, shifted).model(REF)


def _weights(scale: float) -> dict[str, np.ndarray]:
    return {spec.name: np.full(spec.shape, scale, np.float32) for spec in SPECS}


def _bundle(weights: dict[str, np.ndarray], **meta) -> bytes:
    return encode_weights(weights, meta=meta)


def _weights_ref(version: int, body: bytes) -> WeightsRef:
    return WeightsRef(version, hashlib.sha256(body).hexdigest(), len(body), f"/v1/weights/{version}?encoding=fp32",
                      "fp32")


def test_full_weights_are_verified_and_cached(tmp_path: Path) -> None:
    body = _bundle(_weights(0.5), version=3)
    asked: list[str] = []
    downloads = _downloads(tmp_path, lambda r: asked.append(r.path) or Response(200, {}, body))
    weights = downloads.weights(_weights_ref(3, body), SPECS)
    assert np.all(weights["dense_kernel"] == 0.5) and downloads.cached_weights_version() == 3
    downloads.weights(_weights_ref(3, body), SPECS)
    assert asked == ["/v1/weights/3?encoding=fp32"]


def test_weights_not_matching_the_announced_hash_are_refused(tmp_path: Path) -> None:
    body = _bundle(_weights(0.5), version=3)
    ref = _weights_ref(3, _bundle(_weights(0.25), version=3))
    with pytest.raises(IntegrityError, match="weights version 3 failed verification"):
        _downloads(tmp_path, lambda r: Response(200, {}, body)).weights(ref, SPECS)
    assert list((tmp_path / "weights").iterdir()) == []


def test_a_delta_from_the_cached_version_is_added(tmp_path: Path) -> None:
    base = _bundle(_weights(1.0), version=2)
    _downloads(tmp_path, lambda r: Response(200, {}, base)).weights(_weights_ref(2, base), SPECS)
    delta = _bundle(_weights(0.25), version=4, delta_from=2)
    full = _bundle(_weights(1.25), version=4)
    headers = {"x-fedlite-delta-from": "2", "x-fedlite-sha256": hashlib.sha256(delta).hexdigest()}
    asked: list[str] = []
    downloads = _downloads(tmp_path, lambda r: asked.append(r.path) or Response(200, headers, delta))
    weights = downloads.weights(_weights_ref(4, full), SPECS)
    assert asked == ["/v1/weights/4?encoding=fp32&since=2"]
    assert np.allclose(weights["dense_bias"], 1.25) and downloads.cached_weights_version() == 4
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["4.npz"]


def test_a_bundle_of_another_version_is_refused(tmp_path: Path) -> None:
    body = _bundle(_weights(0.5), version=9)
    with pytest.raises(RemoteProtocolError, match="says version 9, expected 3"):
        _downloads(tmp_path, lambda r: Response(200, {}, body)).weights(_weights_ref(3, body), SPECS)
