"""Fuzzing the decoders: 100,000+ random and mutated bundles produce only DecodeError.

Most mutations re-seal the CRC so they reach the record and payload parsers. A bundle that still
decodes is fully materialised, which must succeed with finite values.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from edge_sdk.wire import (
    PRESETS,
    Codec,
    DecodeError,
    Eden,
    Float16,
    Hadamard,
    RandK,
    TensorCodec,
    TopK,
    Uniform,
    decode_update,
    decode_weights,
    encode_update,
    encode_weights,
)
from tests.wire.codec_helpers import heavy_tailed, specs_of

CASES = 100_000
SHAPES = {"k": (20, 16), "b": (5,), "c": (300,), "s": ()}
EXTRA_CODECS = [
    Codec("rot-topk-eden", TensorCodec(Eden(2, 64), Hadamard(6), TopK(100_000), deflate=True), small_below=0),
    Codec("randk-f16", TensorCodec(Float16(), sparsity=RandK(300_000)), small_below=0),
    Codec("rot-u1-deflate", TensorCodec(Uniform(1, 32), Hadamard(4), deflate=True), small_below=0),
]


def seeds() -> list[tuple[bytes, Callable[[bytes], object]]]:
    """Valid bundles of every codec (and weights), each with the decoder that reads it."""
    delta = heavy_tailed(1, SHAPES)
    delta["c"][:200] = 0.0  # compressible, so deflate is used
    specs = specs_of(delta)
    update_decoder = lambda data: _materialise(decode_update(data, specs))  # noqa: E731
    bundles = [
        (encode_update(delta, codec, seed=3, meta={"round": 1, "m": [1.5]})[0], update_decoder)
        for codec in [*PRESETS.values(), *EXTRA_CODECS]
    ]
    weights_decoder = lambda data: decode_weights(data, specs)  # noqa: E731
    bundles += [
        (encode_weights(delta, dtype=dtype, meta={"v": 1}, deflate=True), weights_decoder)
        for dtype in ("float32", "float16")
    ]
    return bundles


def _materialise(update) -> None:
    for name in update:
        assert np.all(np.isfinite(update[name]))
    assert np.isfinite(update.l2_norm())


def reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def mutations(valid: bytes, rng: np.random.Generator) -> Iterator[bytes]:
    """A handful of damaged variants of one valid bundle."""
    body = bytearray(valid[:-4])
    flipped = bytearray(body)
    for position in rng.integers(0, len(body), rng.integers(1, 6)):
        flipped[position] ^= 1 << int(rng.integers(0, 8))
    yield reseal(bytes(flipped))
    yield bytes(flipped) + valid[-4:]  # CRC left stale
    field = bytearray(body)
    position, width = int(rng.integers(8, len(body) - 1)), int(rng.choice([1, 2, 4]))
    extreme = int(
        rng.choice([0, 1, 2 ** (8 * width) - 1, 2 ** (8 * width - 1), int(rng.integers(0, 2 ** (8 * width)))])
    )
    field[position : position + width] = extreme.to_bytes(width, "little")[: len(field) - position]
    yield reseal(bytes(field))
    cut = int(rng.integers(0, len(body)))
    yield reseal(bytes(body[:cut]))
    yield reseal(bytes(body) + rng.bytes(int(rng.integers(1, 40))))
    start, length = int(rng.integers(16, len(body))), int(rng.integers(1, 30))
    yield reseal(bytes(body[:start]) + rng.bytes(length) + bytes(body[start + length :]))
    yield reseal(bytes(body[:start]) + bytes(body[start + length :]))
    yield rng.bytes(int(rng.integers(0, 300)))
    yield reseal(valid[:8] + rng.bytes(int(rng.integers(0, 300))))


@pytest.mark.slow
def test_decoders_raise_only_decode_error() -> None:
    rng = np.random.default_rng(20240611)
    valid = seeds()
    tried = rejected = 0
    while tried < CASES:
        data, decode = valid[int(rng.integers(0, len(valid)))]
        for bad in mutations(data, rng):
            try:
                decode(bad)
            except DecodeError:
                rejected += 1
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{type(exc).__name__}: {exc} for input {bad.hex()}")
            tried += 1
    assert rejected > 0.75 * tried  # the mutations do damage
