"""Golden vectors (tests/vectors/codec): re-encoding gives the stored bytes, decoding the stored values.

The same files drive the JVM tests of the Android core; see tests/vectors/README.md.
"""

from __future__ import annotations

import hashlib
import json
import zlib

import numpy as np
import pytest

from edge_sdk.wire import PRESETS, decode_update, decode_weights, prng
from edge_sdk.wire.bundle import KIND_UPDATE, KIND_WEIGHTS, encode_meta
from edge_sdk.wire.encoding import RandKParams
from edge_sdk.wire.pipeline import encode_tensor
from edge_sdk.wire.reference import REFERENCE
from tests.wire.codec_helpers import Spec
from tests.wire.vector_cases import (
    CASES,
    ROTATION_SEED,
    SEED,
    VECTOR_DIR,
    codec_json,
    encode_case,
    encoding_json,
    inputs,
    raw_records,
)

BY_NAME = {case.name: case for case in CASES}


def load(name: str) -> tuple[dict, bytes]:
    vector = json.loads((VECTOR_DIR / f"{name}.json").read_text())
    return vector, (VECTOR_DIR / vector["bundle"]).read_bytes()


def f32(hex_string: str | None, shape: list[int]) -> np.ndarray:
    """Little-endian float32 hex as an array (zeros for a missing residual)."""
    if hex_string is None:
        return np.zeros(shape, np.float32)
    return np.frombuffer(bytes.fromhex(hex_string), dtype="<f4").reshape(shape)


def test_every_case_and_preset_has_a_vector() -> None:
    stored = {path.stem for path in VECTOR_DIR.glob("*.json")}
    assert stored == set(BY_NAME)
    assert set(PRESETS) <= stored


@pytest.mark.parametrize("name", BY_NAME)
def test_reencoding_reproduces_the_stored_bundle(name: str) -> None:
    vector, stored = load(name)
    case = BY_NAME[name]
    assert vector["bundle_sha256"] == hashlib.sha256(stored).hexdigest()
    assert encode_meta(json.loads(vector["meta_json"])) == vector["meta_json"].encode("utf-8")
    if case.kind == "update":
        assert vector["codec"] == codec_json(case.update_codec)  # pins the preset definitions too
        assert (vector["seed"], vector["rotation_seed"]) == (str(SEED), str(ROTATION_SEED))
    data, new_residual = encode_case(case)
    kind = KIND_UPDATE if case.kind == "update" else KIND_WEIGHTS
    if vector["uses_zlib"]:  # compressed bytes may differ between zlib builds; inflated ones may not
        assert raw_records(data, kind) == raw_records(stored, kind)
    else:
        assert data == stored
    case_inputs = inputs(case)[0]
    for tensor in vector["tensors"]:
        assert tensor["input_f32"] == case_inputs[tensor["name"]].astype("<f4").tobytes().hex()
        if new_residual is not None:
            assert new_residual[tensor["name"]].astype("<f4").tobytes().hex() == tensor["new_residual_f32"]


@pytest.mark.parametrize("name", BY_NAME)
def test_decoding_the_stored_bundle_gives_the_stored_values(name: str) -> None:
    vector, stored = load(name)
    specs = [Spec(t["name"], tuple(t["shape"])) for t in vector["tensors"]]
    if vector["kind"] == "update":
        update = decode_update(stored, specs)
        meta, decoded = update.meta, update.tensors()
    else:
        meta, decoded = decode_weights(stored, specs)
    assert meta == json.loads(vector["meta_json"])
    kind = KIND_UPDATE if vector["kind"] == "update" else KIND_WEIGHTS
    records = {record[0]: record for record in raw_records(stored, kind)}
    for tensor in vector["tensors"]:
        assert decoded[tensor["name"]].astype("<f4").tobytes().hex() == tensor["decoded_f32"]
        _, shape, encoding, raw = records[tensor["name"]]
        assert list(shape) == tensor["shape"] and encoding_json(encoding) == tensor["record"]
        assert raw.hex() == tensor["raw_payload"]


@pytest.mark.parametrize("name", [case.name for case in CASES if case.kind == "update"])
def test_reference_kernels_reproduce_every_stored_payload(name: str) -> None:
    """Record by record, the spec's loop-by-loop kernels and documented seeds give the same bytes."""
    vector, stored = load(name)
    records = raw_records(stored, KIND_UPDATE)
    for index, (tensor, (_, _, encoding, raw)) in enumerate(zip(vector["tensors"], records, strict=True)):
        x = f32(tensor["input_f32"], tensor["shape"]) + f32(tensor["residual_f32"], tensor["shape"])  # in float32
        if encoding.rotation is not None:
            assert encoding.rotation.seed == prng.sub_seed(ROTATION_SEED, prng.ROTATION_TAG, index)
        if isinstance(encoding.sparsity, RandKParams):
            assert encoding.sparsity.seed == prng.sub_seed(SEED, prng.SELECTION_TAG, index)
        written, payload, x_hat = encode_tensor(
            x.reshape(-1), encoding, prng.sub_seed(SEED, prng.ROUNDING_TAG, index), REFERENCE
        )
        assert (zlib.decompress(payload) if written.deflate else payload) == raw
        assert (x.reshape(-1) - x_hat).astype("<f4").tobytes().hex() == tensor["new_residual_f32"]
