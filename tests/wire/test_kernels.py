"""The vectorised kernels produce exactly the bits of the loop-by-loop reference (the spec)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_sdk.wire import prng, reference
from edge_sdk.wire.kernels import FAST
from edge_sdk.wire.reference import REFERENCE

SEEDS = st.integers(min_value=0, max_value=2**64 - 1)
FLOATS = st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


def float32_arrays(min_size: int = 0, max_size: int = 300) -> st.SearchStrategy[np.ndarray]:
    """Arrays mixing heavy-tailed draws with hypothesis' awkward values (zeros, -0.0, ties, tiny)."""

    @st.composite
    def build(draw: st.DrawFn) -> np.ndarray:
        size = draw(st.integers(min_size, max_size))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        values = (rng.standard_t(2, size) * 10.0 ** rng.uniform(-6, 2)).astype(np.float32)
        for index, value in draw(st.lists(st.tuples(st.integers(0, max(size - 1, 0)), FLOATS), max_size=5)):
            if size:
                values[index] = value
        return values

    return build()


def same_bits(a: object, b: object) -> bool:
    if isinstance(a, tuple):
        return all(same_bits(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bytes):
        return a == b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_splitmix64_matches_the_published_sequence() -> None:
    expected = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    assert [prng.output(1234567, j) for j in range(5)] == expected
    assert prng.outputs(1234567, 5).tolist() == expected
    assert prng.output(0, 0) == 16294208416658607535


@given(seed=SEEDS, count=st.integers(0, 200), start=st.integers(0, 5))
def test_vectorised_streams_match_scalar_definitions(seed: int, count: int, start: int) -> None:
    assert prng.outputs(seed, count).tolist() == [prng.output(seed, j) for j in range(count)]
    uniforms = prng.uniform_bits(seed, count, start) * 2.0**-32
    assert uniforms.tolist() == [reference.uniform(seed, e) for e in range(start, start + count)]
    assert prng.sign_bits(seed, count).tolist() == [int(reference.flip_bit(seed, e)) for e in range(count)]


@settings(max_examples=60, deadline=None)
@given(x=float32_arrays(1, 600), log2_block=st.integers(0, 9), seed=SEEDS)
def test_rotation(x: np.ndarray, log2_block: int, seed: int) -> None:
    z = FAST.rotate(x, log2_block, seed)
    assert same_bits(z, REFERENCE.rotate(x, log2_block, seed))
    for dtype in (np.float32, np.float64):
        coded = z.astype(dtype)
        assert same_bits(
            FAST.unrotate(coded, log2_block, seed, x.size), REFERENCE.unrotate(coded, log2_block, seed, x.size)
        )


@settings(max_examples=60, deadline=None)
@given(x=float32_arrays(), bits=st.sampled_from([1, 2, 4, 8]), chunk=st.integers(1, 80), seed=SEEDS)
def test_uniform_quantiser(x: np.ndarray, bits: int, chunk: int, seed: int) -> None:
    fast = FAST.quantize_uniform(x, bits, chunk, seed)
    assert same_bits(fast, REFERENCE.quantize_uniform(x, bits, chunk, seed))
    assert same_bits(FAST.dequantize_uniform(*fast, bits, chunk), REFERENCE.dequantize_uniform(*fast, bits, chunk))


@settings(max_examples=60, deadline=None)
@given(x=float32_arrays(), bits=st.sampled_from([1, 2, 4]), chunk=st.integers(1, 80))
def test_eden_quantiser(x: np.ndarray, bits: int, chunk: int) -> None:
    fast = FAST.quantize_eden(x, bits, chunk)
    assert same_bits(fast, REFERENCE.quantize_eden(x, bits, chunk))
    assert same_bits(FAST.dequantize_eden(*fast, bits, chunk), REFERENCE.dequantize_eden(*fast, bits, chunk))


@settings(max_examples=60, deadline=None)
@given(x=float32_arrays(1), data=st.data(), seed=SEEDS)
def test_selection(x: np.ndarray, data: st.DataObject, seed: int) -> None:
    k = data.draw(st.integers(1, x.size))
    assert same_bits(FAST.topk_indices(x, k), REFERENCE.topk_indices(x, k))
    assert same_bits(FAST.randk_indices(x.size, k, seed), REFERENCE.randk_indices(x.size, k, seed))


def test_topk_ties_go_to_the_lower_index_and_signed_zeros_tie() -> None:
    x = np.array([1.0, -2.0, 2.0, 0.0, -0.0, -2.0, 0.5], dtype=np.float32)
    assert FAST.topk_indices(x, 2).tolist() == [1, 2]
    assert FAST.topk_indices(x, 6).tolist() == [0, 1, 2, 3, 5, 6]


@settings(max_examples=80, deadline=None)
@given(bits=st.sampled_from([1, 2, 4, 8]), data=st.data())
def test_code_packing(bits: int, data: st.DataObject) -> None:
    codes = np.array(data.draw(st.lists(st.integers(0, 2**bits - 1), max_size=70)), dtype=np.uint8)
    packed = FAST.pack_codes(codes, bits)
    assert packed == REFERENCE.pack_codes(codes, bits)
    assert same_bits(FAST.unpack_codes(packed, bits, codes.size), codes)
    assert same_bits(REFERENCE.unpack_codes(packed, bits, codes.size), codes)


def test_code_packing_is_lsb_first() -> None:
    assert FAST.pack_codes(np.array([1, 2, 3], dtype=np.uint8), 4) == bytes([0x21, 0x03])
    assert FAST.pack_codes(np.array([1, 0, 1, 1, 0, 0, 0, 0, 1], dtype=np.uint8), 1) == bytes([0x0D, 0x01])
    assert FAST.pack_codes(np.array([3, 0, 1, 2, 1], dtype=np.uint8), 2) == bytes([0x93, 0x01])


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_elias_fano(data: st.DataObject) -> None:
    m = data.draw(st.integers(1, 3000))
    indices = np.array(
        sorted(data.draw(st.sets(st.integers(0, m - 1), min_size=1, max_size=min(m, 200)))), dtype=np.int64
    )
    encoded = FAST.elias_fano_encode(indices, m)
    assert encoded == REFERENCE.elias_fano_encode(indices, m)
    assert same_bits(FAST.elias_fano_decode(encoded, indices.size, m), indices)
    assert same_bits(REFERENCE.elias_fano_decode(encoded, indices.size, m), indices)


@settings(max_examples=60, deadline=None)
@given(x=float32_arrays())
def test_float16_conversion(x: np.ndarray) -> None:
    x = np.clip(x, -65504, 65504)
    assert FAST.to_float16(x) == REFERENCE.to_float16(x)


def test_float16_rounds_to_nearest_even_and_rejects_overflow() -> None:
    ties = np.array([1 + 2**-11, 1 + 3 * 2**-11, 65519.0, 2**-25, 2**-25 * 1.5], dtype=np.float32)
    halves = np.frombuffer(FAST.to_float16(ties), dtype="<f2").astype(np.float64).tolist()
    assert halves == [1.0, 1 + 2**-9, 65504.0, 0.0, 2**-24]
    for kernels in (FAST, REFERENCE):
        with pytest.raises(ValueError, match="float16 range"):
            kernels.to_float16(np.array([65520.0], dtype=np.float32))
