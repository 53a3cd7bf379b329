"""encode_update / decode_update: round trips, error feedback, input checks, size limits."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edge_sdk.wire import (
    PRESETS,
    Codec,
    DecodeError,
    Float32,
    TensorCodec,
    UpdateSum,
    decode_update,
    encode_update,
    get_preset,
    max_update_bytes,
)
from tests.wire.codec_helpers import Spec, energy, heavy_tailed, specs_of, sq_error

META = {"model_id": "tiny", "round": 3, "base_version": 2, "num_examples": 64, "metrics": {"loss": 0.5}}
LOSSY_ERROR_BOUND = {  # relative squared error of one round on t(3) data
    "fp32": 0.0,
    "fp16": 1e-6,
    "int8": 1e-3,
    "int8-deflate": 1e-3,
    "int4": 1.0,
    "rot-int4": 0.1,
    "rot-int2": 2.0,
    "rot-2bit": 0.3,
    "rot-1bit": 1.0,
    "rot-randk50-1bit": 1.0,
    "topk-10pct-int8": 0.8,
    "topk-1pct-int8": 1.0,
    "randk-10pct-int8": 1.0,
}


@pytest.fixture(scope="module")
def delta() -> dict[str, np.ndarray]:
    return heavy_tailed(0)


@pytest.mark.parametrize("codec", PRESETS)
def test_round_trip_keeps_meta_names_shapes_and_bounded_error(codec: str, delta: dict) -> None:
    data, _ = encode_update(delta, codec, seed=7, meta=META)
    update = decode_update(data, specs_of(delta))
    assert update.meta == META and update.names == tuple(delta) and len(update) == len(delta)
    decoded = update.tensors()
    assert all(decoded[k].shape == v.shape and decoded[k].dtype == np.float32 for k, v in delta.items())
    assert sq_error(decoded, delta) <= LOSSY_ERROR_BOUND[codec] * energy(delta)
    assert update.l2_norm() == pytest.approx(np.sqrt(energy(decoded)), rel=1e-9)


def test_small_tensors_travel_as_exact_float32(delta: dict) -> None:
    update = decode_update(encode_update(delta, "rot-1bit", seed=1, meta={})[0], specs_of(delta))
    assert update.parsed("dense/bias").encoding.values == Float32()
    np.testing.assert_array_equal(update["dense/bias"], delta["dense/bias"])
    np.testing.assert_array_equal(update["step_scale"], delta["step_scale"])
    assert update.parsed("head/kernel").encoding.rotation is not None  # 300 elements: compressed


def test_encoding_is_deterministic_in_the_seeds(delta: dict) -> None:
    first = encode_update(delta, "rot-int2", seed=5, meta=META)[0]
    assert encode_update(delta, "rot-int2", seed=5, meta=META)[0] == first
    assert encode_update(delta, "rot-int2", seed=6, meta=META)[0] != first
    assert encode_update(delta, "rot-int2", seed=5, rotation_seed=5, meta=META)[0] == first
    assert encode_update(delta, "rot-int2", seed=5, rotation_seed=8, meta=META)[0] != first


def test_a_shared_rotation_seed_gives_every_device_the_same_rotation(delta: dict) -> None:
    a = decode_update(encode_update(delta, "rot-1bit", seed=1, rotation_seed=42, meta={})[0], specs_of(delta))
    b = decode_update(encode_update(delta, "rot-1bit", seed=2, rotation_seed=42, meta={})[0], specs_of(delta))
    assert a.parsed("dense/kernel").encoding.rotation == b.parsed("dense/kernel").encoding.rotation


def run_rounds(codec: str, rounds: int, feedback: bool) -> tuple[list[float], list[float]]:
    """Per round: |sum of true deltas - sum of decoded updates|, and |residual| / |delta|.

    Each delta is a persistent direction plus fresh heavy-tailed noise, like successive local updates.
    """
    shapes = {"w": (64, 50), "v": (700,)}
    persistent = heavy_tailed(100, shapes, scale=1e-2)
    residual, gap, gaps, residual_ratios = None, {k: np.zeros(s) for k, s in shapes.items()}, [], []
    for round_ in range(rounds):
        noise = np.random.default_rng(round_)
        delta = {
            k: (persistent[k] + noise.standard_t(3, shape) * 1e-2).astype(np.float32) for k, shape in shapes.items()
        }
        data, new_residual = encode_update(delta, codec, seed=round_, meta={}, residual=residual)
        decoded = decode_update(data, specs_of(delta)).tensors()
        gap = {k: gap[k] + delta[k] - decoded[k] for k in shapes}
        if feedback:  # the invariant: what has not been sent yet is exactly the residual
            np.testing.assert_allclose(gap["w"], new_residual["w"], atol=1e-5 * float(np.max(np.abs(gap["w"]))))
            residual = new_residual
            residual_ratios.append(np.sqrt(energy(new_residual) / energy(delta)))
        gaps.append(np.sqrt(energy(gap)))
    return gaps, residual_ratios


# A compressor with |x - C(x)|^2 <= (1 - d)|x|^2 keeps |r| <= sqrt(1 - d) / (1 - sqrt(1 - d)) max|delta|;
# keeping 10% of the values gives d = 0.1 and a bound of 18.5. The quantisers stay far below 2.
@pytest.mark.parametrize(
    ("codec", "residual_bound"),
    [("rot-1bit", 2.0), ("int4", 2.0), ("topk-10pct-int8", 18.5), ("randk-10pct-int8", 18.5)],
)
def test_error_feedback_keeps_the_residual_bounded(codec: str, residual_bound: float) -> None:
    _, residual_ratios = run_rounds(codec, 60, feedback=True)
    assert max(residual_ratios) < residual_bound
    assert np.mean(residual_ratios[40:]) < 1.2 * np.mean(residual_ratios[20:40])  # settled, no drift


@pytest.mark.parametrize("codec", ["topk-10pct-int8", "randk-10pct-int8"])
def test_without_error_feedback_a_biased_codec_drifts(codec: str) -> None:
    with_feedback, _ = run_rounds(codec, 60, feedback=True)
    without_feedback, _ = run_rounds(codec, 60, feedback=False)
    assert with_feedback[-1] < 0.3 * without_feedback[-1]
    assert without_feedback[-1] > 2 * without_feedback[19]  # it keeps growing


def test_residual_is_added_before_compression() -> None:
    delta = {"w": np.zeros((20, 20), np.float32)}
    residual = {"w": np.full((20, 20), 0.25, np.float32)}
    data, new_residual = encode_update(delta, "fp32", seed=0, meta={}, residual=residual)
    np.testing.assert_array_equal(decode_update(data, specs_of(delta))["w"], residual["w"])
    np.testing.assert_array_equal(new_residual["w"], 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delta": {"w": np.array([1.0, np.nan])}}, "'w' contains NaN"),
        ({"delta": {"w": np.array([1e39])}}, "'w' contains NaN or infinity"),
        ({"delta": {"w": np.array(["a"])}}, "'w': not a float array"),
        ({"residual": {}}, "residual does not match"),
        ({"residual": {"w": np.zeros(3)}}, "residual 'w' has shape"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 2**64}, "seed must be"),
        ({"rotation_seed": 1.5}, "rotation_seed must be"),
        ({"meta": {"x": float("nan")}}, "Out of range float"),
        ({"meta": {"x": "y" * 70000}}, "more than 65536"),
        ({"meta": ["not", "a", "dict"]}, "meta must be a mapping"),
        ({"codec": "int3"}, "unknown codec 'int3'; choose one of fp32, fp16"),
        ({"delta": {"w": np.full(300, 1e5)}, "codec": "fp16"}, "tensor 'w': value outside the float16 range"),
        ({"delta": {"": np.zeros(2)}}, "tensor name '' must be a string of 1 to 1024 UTF-8 bytes"),
        ({"delta": {7: np.zeros(2)}}, "tensor name 7 must be a string"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(kwargs: dict, message: str) -> None:
    args = {"delta": {"w": np.zeros((2, 2))}, "codec": "int8", "seed": 1, "meta": {}} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_update(args.pop("delta"), args.pop("codec"), **args)


def test_decode_checks_tensors_against_the_model(delta: dict) -> None:
    data = encode_update(delta, "int8", seed=1, meta={})[0]
    specs = specs_of(delta)
    cases = [
        (specs[:-1], r"missing \[\], unexpected \['step_scale'\]"),
        (specs + [Spec("extra", (2,))], r"missing \['extra'\]"),
        ([Spec("dense/kernel", (30, 40))] + specs[1:], r"tensor 'dense/kernel': shape \[40, 30\], expected \[30, 40\]"),
    ]
    for weights, message in cases:
        with pytest.raises(DecodeError, match=message):
            decode_update(data, weights)
    twice = encode_update({"a": np.zeros(2)}, "fp32", seed=0, meta={})[0]
    with pytest.raises(ValueError, match="listed twice"):
        decode_update(twice, [Spec("a", (2,)), Spec("a", (2,))])


def test_duplicate_tensor_names_are_rejected() -> None:
    from edge_sdk.wire.bundle import KIND_UPDATE, Record, write_bundle
    from edge_sdk.wire.encoding import Encoding

    record = Record("a", (1,), Encoding(), np.float32(1).tobytes())
    data = write_bundle(KIND_UPDATE, {}, [record, record])
    with pytest.raises(DecodeError, match="duplicate tensors: 'a'"):
        decode_update(data, [Spec("a", (1,))])


def test_decode_rejects_oversized_bodies_before_parsing(delta: dict) -> None:
    data = encode_update(delta, "int8", seed=1, meta={})[0]
    assert decode_update(data, specs_of(delta), max_bytes=len(data)).nbytes == len(data)
    with pytest.raises(DecodeError, match=f"bundle is {len(data)} bytes, more than the limit of {len(data) - 1}"):
        decode_update(data, specs_of(delta), max_bytes=len(data) - 1)


@pytest.mark.parametrize("codec", PRESETS)
def test_max_update_bytes_bounds_every_encoding(codec: str, delta: dict) -> None:
    limit = max_update_bytes(specs_of(delta), codec)
    largest_meta = {"m": "x" * (65536 - 8)}
    data = encode_update(delta, codec, seed=3, meta=largest_meta)[0]
    assert len(data) <= limit
    if not get_preset(codec).main.deflate:
        assert len(data) == limit  # sizes are fixed by shapes and codec


def test_custom_codec_objects_are_accepted(delta: dict) -> None:
    codec = Codec("plain", TensorCodec(), small_below=0)
    data, residual = encode_update(delta, codec, seed=1, meta={})
    decoded = decode_update(data, specs_of(delta)).tensors()
    assert all(np.array_equal(decoded[k], v) for k, v in delta.items())
    assert all(not r.any() for r in residual.values())


@pytest.mark.parametrize("codec", PRESETS)
def test_empty_and_scalar_tensors_work_with_every_pipeline(codec: str) -> None:
    everything = Codec(codec, get_preset(codec).main, small_below=0)  # no float32 fallback
    delta = {"empty": np.zeros((0, 3), np.float32), "scalar": np.float32(-0.5), "x": np.arange(5, dtype=np.float32)}
    update = decode_update(encode_update(delta, everything, seed=1, meta={})[0], specs_of(delta))
    assert update["empty"].shape == (0, 3) and update["scalar"].shape == ()
    total = UpdateSum(specs_of(delta))
    total.add(update, 2.0)
    assert total.result()["empty"].shape == (0, 3)


@pytest.mark.parametrize("codec", ["fp32", "int8", "rot-1bit", "topk-10pct-int8"])
def test_encoding_never_modifies_the_callers_arrays(codec: str) -> None:
    delta, residual = heavy_tailed(1), heavy_tailed(2)
    before = {k: v.copy() for k, v in delta.items()}, {k: v.copy() for k, v in residual.items()}
    encode_update(delta, codec, seed=1, meta={})
    encode_update(delta, codec, seed=1, meta={}, residual=residual)
    assert all(np.array_equal(delta[k], before[0][k]) and np.array_equal(residual[k], before[1][k]) for k in delta)


@pytest.mark.parametrize("codec", ["fp32", "int8", "rot-1bit"])
def test_a_decoded_update_never_changes_with_its_input_buffer(codec: str, delta: dict) -> None:
    data, _ = encode_update(delta, codec, seed=1, meta=META)
    buffer = bytearray(data)
    update = decode_update(buffer, specs_of(delta))
    before = update.tensors()
    buffer[16:-4] = bytes(len(buffer) - 20)  # the caller reuses its buffer after decoding
    assert all(np.array_equal(update[name], before[name]) for name in before)
    assert update.l2_norm() == decode_update(data, specs_of(delta)).l2_norm()
