"""Reference kernels: docs/wire-format.md §3 restated one element at a time.

Slow and plain on purpose: this module is the executable definition of the codec, and the
vectorised kernels in ``kernels.FAST`` are tested to produce the same bits. Python floats are
IEEE doubles; ``np.float32`` scalars give the float (binary32) steps.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from edge_sdk.wire import prng
from edge_sdk.wire.bits import ceil_div, elias_fano_low_bits
from edge_sdk.wire.errors import DecodeError
from edge_sdk.wire.kernels import Kernels
from edge_sdk.wire.quantize import EDEN_BOUNDARIES, EDEN_CENTROIDS
from edge_sdk.wire.rotation import padded_length


def uniform(seed: int, e: int) -> float:
    """The e-th uniform of stream ``seed``: 32 bits of output(seed, e >> 1) times 2**-32."""
    word = prng.output(seed, e >> 1)
    return (word & 0xFFFFFFFF if e % 2 == 0 else word >> 32) * 2.0**-32


def flip_bit(seed: int, e: int) -> bool:
    """Whether the rotation negates element e."""
    return (prng.output(seed, e >> 6) >> (e & 63)) & 1 == 1


def rotate(x: np.ndarray, log2_block: int, seed: int) -> np.ndarray:
    """Pad with zeros, flip signs, then butterflies in float32, stage by stage."""
    z = [np.float32(0.0)] * padded_length(len(x), log2_block)
    for e, value in enumerate(x):
        z[e] = np.float32(value)
    for e in range(len(z)):
        if flip_bit(seed, e):
            z[e] = -z[e]
    _butterflies(z, 1 << log2_block)
    return np.array(z, dtype=np.float32)


def unrotate(z: np.ndarray, log2_block: int, seed: int, n: int, overwrite: bool = False) -> np.ndarray:
    """Butterflies in z's precision, times 2**-log2_block, the same sign flips, first n values.

    Never touches z (``overwrite`` only allows the fast kernel to reuse z's memory).
    """
    scalar = z.dtype.type
    y = [scalar(value) for value in z]
    _butterflies(y, 1 << log2_block)
    y = [value * scalar(2.0**-log2_block) for value in y[:n]]
    return np.array([-value if flip_bit(seed, e) else value for e, value in enumerate(y)], dtype=z.dtype)


def _butterflies(z: list, block: int) -> None:
    for start in range(0, len(z), block):
        h = 1
        while h < block:
            for j in range(start, start + block):
                if (j - start) % (2 * h) < h:
                    a, b = z[j], z[j + h]
                    z[j], z[j + h] = a + b, a - b
            h *= 2


def topk_indices(values: np.ndarray, k: int) -> np.ndarray:
    """The k largest |v| (ties to the lower index), in increasing index order."""
    order = sorted(range(len(values)), key=lambda e: (-abs(float(values[e])), e))
    return np.array(sorted(order[:k]), dtype=np.int64)


def randk_indices(m: int, k: int, seed: int) -> np.ndarray:
    """The k smallest keys (high half of output(seed, e)) << 32 | e, in increasing index order."""
    keys = {e: (prng.output(seed, e) >> 32 << 32) | e for e in range(m)}
    return np.array(sorted(sorted(range(m), key=keys.__getitem__)[:k]), dtype=np.int64)


def quantize_uniform(values: np.ndarray, bits: int, chunk: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk: s = max|v|; t = (v / s + 1) * (L - 1) / 2; round up with probability frac(t)."""
    levels = 1 << bits
    scales, codes = [], []
    for start in range(0, len(values), chunk):
        part = [float(v) for v in values[start : start + chunk]]
        s = max(abs(v) for v in part)
        scales.append(s)
        for e, v in enumerate(part, start):
            if s == 0:
                codes.append(0)
                continue
            t = (v / s + 1.0) * ((levels - 1) / 2.0)
            low = min(math.floor(t), levels - 2)
            codes.append(low + (1 if uniform(seed, e) < t - low else 0))
    return np.array(scales, dtype=np.float32), np.array(codes, dtype=np.uint8)


def dequantize_uniform(
    scales: np.ndarray, codes: np.ndarray, bits: int, chunk: int, dtype: type = np.float64
) -> np.ndarray:
    """s * ((2c - (L - 1)) / (L - 1)): the division first, then the product, then rounded to dtype."""
    top = (1 << bits) - 1
    return np.array([float(scales[e // chunk]) * ((2 * int(c) - top) / top) for e, c in enumerate(codes)], dtype=dtype)


def quantize_eden(values: np.ndarray, bits: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk: sigma = sqrt(sum v^2 / cnt); nearest centroid of v / sigma; S = sum v^2 / sum v T."""
    table, bounds = EDEN_CENTROIDS[bits], EDEN_BOUNDARIES[bits]
    scales, codes = [], []
    for start in range(0, len(values), chunk):
        part = [float(v) for v in values[start : start + chunk]]
        s2 = 0.0
        for v in part:
            s2 += v * v
        sigma = math.sqrt(s2 / len(part))
        part_codes = [sum(1 for b in bounds if (v / sigma if s2 > 0 else 0.0) >= b) for v in part]
        dot = 0.0
        for v, c in zip(part, part_codes, strict=True):
            dot += v * float(table[c])
        scales.append(np.float32(s2 / dot) if s2 > 0 else np.float32(0.0))
        codes += part_codes
    return np.array(scales, dtype=np.float32), np.array(codes, dtype=np.uint8)


def dequantize_eden(
    scales: np.ndarray, codes: np.ndarray, bits: int, chunk: int, dtype: type = np.float64
) -> np.ndarray:
    """S * T[c] in double, rounded to dtype."""
    table = EDEN_CENTROIDS[bits]
    return np.array([float(scales[e // chunk]) * float(table[c]) for e, c in enumerate(codes)], dtype=dtype)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Code e's bit i goes to stream bit e * bits + i (LSB-first)."""
    return _write_fields([int(c) for c in codes], bits)


def unpack_codes(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`, checking the length and the zero padding."""
    return np.array(_read_fields(data, bits, count, "code stream"), dtype=np.uint8)


def elias_fano_encode(indices: np.ndarray, m: int) -> bytes:
    """L-bit lows, then the highs bitmap with bit (i_j >> L) + j set."""
    k = len(indices)
    low_bits = elias_fano_low_bits(k, m)
    highs = [0] * (k + (m >> low_bits))
    for j, index in enumerate(indices):
        highs[(int(index) >> low_bits) + j] = 1
    return _write_fields([int(i) & ((1 << low_bits) - 1) for i in indices], low_bits) + _write_fields(highs, 1)


def elias_fano_decode(data: bytes, k: int, m: int) -> np.ndarray:
    """Indices ((p_j - j) << L) | low_j, validated as strictly increasing and below m."""
    low_bits = elias_fano_low_bits(k, m)
    lows_size = ceil_div(k * low_bits, 8)
    lows = _read_fields(data[:lows_size], low_bits, k, "index lows")
    highs = _read_fields(data[lows_size:], 1, k + (m >> low_bits), "index highs")
    positions = [p for p, bit in enumerate(highs) if bit]
    if len(positions) != k:
        raise DecodeError(f"index highs have {len(positions)} set bits, expected {k}")
    indices = [((p - j) << low_bits) | low for j, (p, low) in enumerate(zip(positions, lows, strict=True))]
    if any(b <= a for a, b in zip(indices, indices[1:], strict=False)) or (indices and indices[-1] >= m):
        raise DecodeError(f"indices are not strictly increasing below {m}")
    return np.array(indices, dtype=np.int64)


def to_float16(values: np.ndarray) -> bytes:
    """binary16 via the standard library's IEEE packer (round to nearest even)."""
    try:
        return b"".join(struct.pack("<e", float(v)) for v in values)
    except OverflowError:
        raise ValueError("value outside the float16 range (|x| >= 65520)") from None


def _write_fields(fields: list[int], width: int) -> bytes:
    out = bytearray(ceil_div(len(fields) * width, 8))
    for j, field in enumerate(fields):
        for i in range(width):
            if (field >> i) & 1:
                p = j * width + i
                out[p // 8] |= 1 << (p % 8)
    return bytes(out)


def _read_fields(data: bytes, width: int, count: int, what: str) -> list[int]:
    if len(data) != ceil_div(count * width, 8):
        raise DecodeError(f"{what} are {len(data)} bytes, expected {ceil_div(count * width, 8)}")
    bit = [(data[p // 8] >> (p % 8)) & 1 for p in range(len(data) * 8)]
    if any(bit[count * width :]):
        raise DecodeError(f"{what} have non-zero padding bits")
    return [sum(bit[j * width + i] << i for i in range(width)) for j in range(count)]


REFERENCE = Kernels(
    rotate=rotate,
    unrotate=unrotate,
    topk_indices=topk_indices,
    randk_indices=randk_indices,
    quantize_uniform=quantize_uniform,
    dequantize_uniform=dequantize_uniform,
    quantize_eden=quantize_eden,
    dequantize_eden=dequantize_eden,
    pack_codes=pack_codes,
    unpack_codes=unpack_codes,
    elias_fano_encode=elias_fano_encode,
    elias_fano_decode=elias_fano_decode,
    to_float16=to_float16,
)
