"""Whole-tensor encodings: the production pipeline equals the reference pipeline byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.wire.encoding import Eden, Encoding, Float16, Float32, HadamardParams, RandKParams, TopKParams, Uniform
from edge_sdk.wire.kernels import FAST
from edge_sdk.wire.pipeline import encode_tensor, parse_tensor
from edge_sdk.wire.reference import REFERENCE

ENCODINGS = {
    "f32": Encoding(Float32()),
    "f16": Encoding(Float16()),
    "uniform8": Encoding(Uniform(8, 64)),
    "uniform1": Encoding(Uniform(1, 50)),
    "rot-uniform2": Encoding(Uniform(2, 128), HadamardParams(7, 11)),
    "rot-eden1": Encoding(Eden(1, 256), HadamardParams(8, 2**64 - 1)),
    "rot-eden4": Encoding(Eden(4, 100), HadamardParams(5, 3)),
    "topk-uniform4": Encoding(Uniform(4, 32), sparsity=TopKParams(37)),
    "topk-f32": Encoding(Float32(), sparsity=TopKParams(5)),
    "randk-f16": Encoding(Float16(), sparsity=RandKParams(60, 99)),
    "rot-randk-eden2": Encoding(Eden(2, 16), HadamardParams(6, 5), RandKParams(100, 7)),
    "uniform8-deflate": Encoding(Uniform(8, 64), deflate=True),
}


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    rng = np.random.default_rng(3)
    values = (rng.standard_t(3, 333) * 1e-2).astype(np.float32)
    values[[5, 6, 7]] = [0.0, -0.0, values[8]]  # zeros and an exact magnitude tie
    return values


@pytest.mark.parametrize("name", ENCODINGS)
def test_fast_pipeline_equals_reference(name: str, x: np.ndarray) -> None:
    fast = encode_tensor(x, ENCODINGS[name], 1234, FAST)
    ref = encode_tensor(x, ENCODINGS[name], 1234, REFERENCE)
    assert fast[0] == ref[0] and fast[1] == ref[1]
    assert fast[2].dtype == np.float32 and fast[2].tobytes() == ref[2].tobytes()
    parsed = parse_tensor("t", x.shape, fast[0], fast[1])
    assert parsed.decode(FAST).tobytes() == parsed.decode(REFERENCE).tobytes()


@pytest.mark.parametrize("name", ENCODINGS)
def test_reconstruction_is_what_the_reader_decodes(name: str, x: np.ndarray) -> None:
    encoding, payload, x_hat = encode_tensor(x, ENCODINGS[name], 99)
    decoded = parse_tensor("t", x.shape, encoding, payload).decode()
    tolerance = 1e-6 * float(np.max(np.abs(x))) if encoding.rotation else 0.0
    np.testing.assert_allclose(decoded, x_hat, rtol=0, atol=tolerance)


def test_deflate_is_dropped_when_it_does_not_help() -> None:
    noise = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    encoding, payload, _ = encode_tensor(noise, Encoding(Float32(), deflate=True), 0)
    assert not encoding.deflate and len(payload) == 256
    encoding, payload, _ = encode_tensor(np.zeros(64, np.float32), Encoding(Float32(), deflate=True), 0)
    assert encoding.deflate and len(payload) < 256
