"""Bit packing: b-bit code streams and Elias–Fano index sets (docs/wire-format.md §2, §3.3).

Every stream is LSB-first: bit p of a stream is bit (p % 8) of byte p // 8, and is padded with
zero bits to a whole byte. Readers raise DecodeError on non-zero padding.
"""

from __future__ import annotations

import numpy as np

from edge_sdk.wire.errors import DecodeError

CODE_BITS = (1, 2, 4, 8)


def ceil_div(a: int, b: int) -> int:
    """Ceiling of a / b for non-negative integers."""
    return (a + b - 1) // b


def packed_size(count: int, bits: int) -> int:
    """Bytes of ``count`` fields of ``bits`` bits each."""
    return ceil_div(count * bits, 8)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Pack uint8 codes (each < 2**bits, bits in 1, 2, 4, 8) into an LSB-first stream."""
    codes = np.asarray(codes, dtype=np.uint8)
    if bits == 8:
        return codes.tobytes()
    if bits == 1:
        return np.packbits(codes, bitorder="little").tobytes()
    per_byte = 8 // bits
    groups = np.zeros(ceil_div(codes.size, per_byte) * per_byte, dtype=np.uint8)
    groups[: codes.size] = codes
    groups = groups.reshape(-1, per_byte)
    packed = groups[:, 0].copy()
    for i in range(1, per_byte):
        packed |= groups[:, i] << np.uint8(i * bits)
    return packed.tobytes()


def unpack_codes(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`; raises DecodeError on a wrong length or non-zero padding.

    8-bit codes of read-only ``data`` (bytes) come back as a read-only view of it, not a copy."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != packed_size(count, bits):
        raise DecodeError(f"code stream is {raw.size} bytes, expected {packed_size(count, bits)}")
    if bits == 8:
        return raw.copy() if raw.flags.writeable else raw
    per_byte = 8 // bits
    codes = np.empty((raw.size, per_byte), dtype=np.uint8)
    for i in range(per_byte):
        codes[:, i] = (raw >> np.uint8(i * bits)) & np.uint8((1 << bits) - 1)
    codes = codes.reshape(-1)
    if codes[count:].any():
        raise DecodeError("code stream has non-zero padding bits")
    return codes[:count]


def pack_fields(values: np.ndarray, width: int) -> bytes:
    """Pack non-negative integers as ``width``-bit fields of an LSB-first stream."""
    shifts = np.arange(width, dtype=np.uint64)
    bit_matrix = (np.asarray(values, dtype=np.uint64)[:, None] >> shifts) & np.uint64(1)
    return np.packbits(bit_matrix.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def unpack_fields(data: bytes, width: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_fields` (int64 result); raises DecodeError on bad length or padding."""
    stream = _stream_bits(data, count * width, "index lows").reshape(count, width)
    return (stream.astype(np.int64) << np.arange(width, dtype=np.int64)).sum(axis=1)


def elias_fano_low_bits(k: int, m: int) -> int:
    """L = floor(log2(m // k)) for 1 <= k <= m."""
    return (m // k).bit_length() - 1


def elias_fano_sizes(k: int, m: int) -> tuple[int, int]:
    """Byte sizes of the (lows, highs) sections for k indices below m (k >= 1)."""
    low_bits = elias_fano_low_bits(k, m)
    return packed_size(k, low_bits), ceil_div(k + (m >> low_bits), 8)


def elias_fano_encode(indices: np.ndarray, m: int) -> bytes:
    """Lows then highs of strictly increasing ``indices`` (all < m, at least one)."""
    indices = np.asarray(indices, dtype=np.int64)
    k = indices.size
    low_bits = elias_fano_low_bits(k, m)
    highs = np.zeros(k + (m >> low_bits), dtype=np.uint8)
    highs[(indices >> low_bits) + np.arange(k)] = 1
    lows = indices & ((1 << low_bits) - 1)
    return pack_fields(lows, low_bits) + np.packbits(highs, bitorder="little").tobytes()


def elias_fano_decode(data: bytes, k: int, m: int) -> np.ndarray:
    """Indices from lows + highs; DecodeError unless exactly k strictly increasing indices < m."""
    low_bits = elias_fano_low_bits(k, m)
    lows_size, highs_size = elias_fano_sizes(k, m)
    if len(data) != lows_size + highs_size:
        raise DecodeError(f"index sections are {len(data)} bytes, expected {lows_size + highs_size}")
    lows = unpack_fields(data[:lows_size], low_bits, k)
    positions = np.flatnonzero(_stream_bits(data[lows_size:], k + (m >> low_bits), "index highs"))
    if positions.size != k:
        raise DecodeError(f"index highs have {positions.size} set bits, expected {k}")
    indices = ((positions - np.arange(k)) << low_bits) | lows
    if k and (indices[-1] >= m or np.any(np.diff(indices) <= 0)):
        raise DecodeError(f"indices are not strictly increasing below {m}")
    return indices


def _stream_bits(data: bytes, nbits: int, what: str) -> np.ndarray:
    """The first ``nbits`` bits of an LSB-first stream of exactly ceil(nbits / 8) bytes."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != ceil_div(nbits, 8):
        raise DecodeError(f"{what} are {raw.size} bytes, expected {ceil_div(nbits, 8)}")
    bits = np.unpackbits(raw, bitorder="little")
    if bits[nbits:].any():
        raise DecodeError(f"{what} have non-zero padding bits")
    return bits[:nbits]
