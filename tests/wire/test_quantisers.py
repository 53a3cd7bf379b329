"""Statistical and exact properties of the codecs: unbiasedness, error bounds, lossless round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_sdk.wire import DecodeError, decode_weights, encode_weights
from edge_sdk.wire.encoding import Eden, Encoding, Float16, Float32, HadamardParams, Uniform
from edge_sdk.wire.pipeline import encode_tensor, parse_tensor
from edge_sdk.wire.quantize import dequantize_eden, dequantize_uniform, quantize_eden, quantize_uniform
from tests.wire.codec_helpers import Spec

DRAWS = 2000
chunks = st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=64).map(lambda v: np.array(v, np.float32))


@settings(max_examples=25, deadline=None)
@given(values=chunks, bits=st.sampled_from([1, 2, 4, 8]))
def test_stochastic_rounding_is_unbiased(values: np.ndarray, bits: int) -> None:
    """Mean of DRAWS independent roundings is within 5 standard errors of every value."""
    step = 2 * float(np.max(np.abs(values))) / (2**bits - 1)
    decoded = np.array(
        [
            dequantize_uniform(*quantize_uniform(values, bits, values.size, seed), bits, values.size)
            for seed in range(DRAWS)
        ]
    )
    # one rounding has standard deviation <= step / 2
    tolerance = 5 * (step / 2) / np.sqrt(DRAWS) + 1e-6 * step
    assert np.all(np.abs(decoded.mean(axis=0) - values) <= tolerance)


@settings(max_examples=60, deadline=None)
@given(values=chunks, bits=st.sampled_from([1, 2, 4, 8]), chunk=st.integers(1, 70), seed=st.integers(0, 2**64 - 1))
def test_stochastic_rounding_error_is_at_most_one_step(values: np.ndarray, bits: int, chunk: int, seed: int) -> None:
    scales, codes = quantize_uniform(values, bits, chunk, seed)
    decoded = dequantize_uniform(scales, codes, bits, chunk)
    step = 2 * np.repeat(scales.astype(np.float64), chunk)[: values.size] / (2**bits - 1)
    assert np.all(np.abs(decoded - values) <= step * (1 + 1e-12))
    assert np.all(scales == np.array([np.max(np.abs(values[i : i + chunk])) for i in range(0, values.size, chunk)]))


@settings(max_examples=60, deadline=None)
@given(values=chunks, bits=st.sampled_from([1, 2, 4]), chunk=st.integers(1, 70))
def test_eden_scale_makes_each_chunk_unbiased_along_itself(values: np.ndarray, bits: int, chunk: int) -> None:
    """<decoded, v> = |v|^2 for every chunk, up to the float32 rounding of its scale.

    That rounding is relative (2^-24) for normal scales and absolute (2^-150) for subnormal ones.
    """
    decoded = dequantize_eden(*quantize_eden(values, bits, chunk), bits, chunk)
    for start in range(0, values.size, chunk):
        v, d = values[start : start + chunk].astype(np.float64), decoded[start : start + chunk]
        tolerance = 1e-6 * np.dot(v, v) + 2.0**-149 * 3 * np.sum(np.abs(v))
        assert abs(np.dot(d, v) - np.dot(v, v)) <= tolerance


def test_rotated_eden_is_unbiased_over_rotations() -> None:
    """Averaged over rotation seeds, rot + 1-bit EDEN converges on the input (t(3) data)."""
    x = np.random.default_rng(0).standard_t(3, 256).astype(np.float32)
    for bits, variance in ((1, 0.57), (2, 0.13)):  # EDEN's relative variance per draw
        total = np.zeros(x.size)
        for seed in range(DRAWS):
            total += encode_tensor(x, Encoding(Eden(bits, 256), HadamardParams(8, 7919 * seed + 1)), 0)[2]
        relative_bias = np.linalg.norm(total / DRAWS - x) / np.linalg.norm(x)
        assert relative_bias < 2.5 * np.sqrt(variance / DRAWS)


def test_rotated_eden_error_matches_theory_on_gaussian_blocks() -> None:
    x = np.random.default_rng(1).standard_normal(8192).astype(np.float32)
    for bits, expected in ((1, 0.571), (2, 0.133), (4, 0.0096)):
        x_hat = encode_tensor(x, Encoding(Eden(bits, 4096), HadamardParams(12, 5)), 0)[2]
        relative_mse = np.sum((x_hat - x.astype(np.float64)) ** 2) / np.sum(x.astype(np.float64) ** 2)
        assert abs(relative_mse - expected) < 0.1 * expected


finite_float32 = hnp.arrays(
    np.float32, st.integers(0, 50), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)
)


@given(values=finite_float32)
def test_float32_values_round_trip_exactly(values: np.ndarray) -> None:
    encoding, payload, _ = encode_tensor(values, Encoding(Float32(), deflate=True), 0)
    assert parse_tensor("t", values.shape, encoding, payload).decode().tobytes() == values.tobytes()


@given(
    values=hnp.arrays(
        np.float16, st.integers(0, 50), elements=st.floats(width=16, allow_nan=False, allow_infinity=False)
    )
)
def test_float16_representable_values_round_trip_exactly(values: np.ndarray) -> None:
    wide = values.astype(np.float32)
    encoding, payload, _ = encode_tensor(wide, Encoding(Float16()), 0)
    assert parse_tensor("t", wide.shape, encoding, payload).decode().tobytes() == wide.tobytes()


@given(values=finite_float32, deflate=st.booleans())
def test_weights_round_trip_exactly(values: np.ndarray, deflate: bool) -> None:
    weights = {"w": values, "scalar": np.float32(3.5)}
    data = encode_weights(weights, meta={"version": 4}, deflate=deflate)
    meta, decoded = decode_weights(data, [Spec("scalar", ()), Spec("w", values.shape)])
    assert meta == {"version": 4} and list(decoded) == ["scalar", "w"]
    assert decoded["w"].tobytes() == values.tobytes() and decoded["scalar"].shape == ()


def test_uniform_zero_chunk_decodes_to_zero() -> None:
    scales, codes = quantize_uniform(np.zeros(5, np.float32), 4, 5, 1)
    assert scales.tolist() == [0.0] and codes.tolist() == [0] * 5
    scales, codes = quantize_eden(np.zeros(5, np.float32), 2, 5)
    assert scales.tolist() == [0.0] and codes.tolist() == [2] * 5
    assert np.all(dequantize_eden(scales, codes, 2, 5) == 0)


def test_uniform_rounding_uses_the_documented_stream() -> None:
    """One value exactly between the two middle levels goes up iff its uniform is below 0.5."""
    from edge_sdk.wire.reference import uniform

    values = np.array([1.0, 0.0], np.float32)  # with bits = 1: t = 0.5 for the zero
    for seed in range(20):
        _, codes = quantize_uniform(values, 1, 2, seed)
        assert codes[1] == (1 if uniform(seed, 1) < 0.5 else 0)


def test_readers_reject_values_writers_never_send() -> None:
    payload = np.array([1.0, np.inf], np.float32).tobytes()
    with pytest.raises(DecodeError, match="tensor 't': value 1 is inf"):
        parse_tensor("t", (2,), Encoding(Float32()), payload)
    scales = np.array([-1.0], np.float32).tobytes()
    with pytest.raises(DecodeError, match="tensor 't': scale 0 is negative"):
        parse_tensor("t", (2,), Encoding(Uniform(8, 2)), scales + b"\0\0")
    huge = np.array([3e38], np.float32).tobytes()
    with pytest.raises(DecodeError, match="eden scale overflows float32"):
        parse_tensor("t", (2,), Encoding(Eden(4, 2)), huge + b"\0")
