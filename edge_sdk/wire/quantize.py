"""Per-chunk quantisers, vectorised (docs/wire-format.md §3.5 uniform, §3.6 eden).

Both split the values into chunks of ``chunk`` (the last one shorter), store one float32 scale
per chunk and one ``bits``-bit code per value. Internally the last chunk is padded with zeros,
which changes no scale, sum or code of a real value.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edge_sdk.wire import prng
from edge_sdk.wire.bits import CODE_BITS, ceil_div

FLOAT32_MAX = float(np.finfo(np.float32).max)
_BATCH_VALUES = 1 << 16

# EDEN centroids: Lloyd–Max quantisers of the standard normal, as float32 bit patterns.
_EDEN_BITS = {
    1: [0x3F4C422A],
    2: [0x3EE7D2C9, 0x3FC1555D],
    4: [0x3E0379FD, 0x3EC6AE44, 0x3F28215E, 0x3F713D39, 0x3FA0CC2F, 0x3FCF1C25, 0x40046AC7, 0x402EE2BF],
}


def _centroids(bits: int) -> np.ndarray:
    positive = np.array(_EDEN_BITS[bits], dtype=np.uint32).view(np.float32).astype(np.float64)
    return np.concatenate([-positive[::-1], positive])


def _read_only(tables: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    for table in tables.values():
        table.flags.writeable = False
    return tables


EDEN_CENTROIDS = _read_only({bits: _centroids(bits) for bits in _EDEN_BITS})
EDEN_BOUNDARIES = _read_only({bits: (t[:-1] + t[1:]) / 2 for bits, t in EDEN_CENTROIDS.items()})


def _uniform_levels(bits: int) -> np.ndarray:
    """Level values for codes 0 .. 2**bits - 1 on [-1, 1]: (2c - (L - 1)) / (L - 1) in double."""
    top = (1 << bits) - 1
    return (2 * np.arange(top + 1) - top).astype(np.float64) / float(top)


UNIFORM_LEVELS = _read_only({bits: _uniform_levels(bits) for bits in CODE_BITS})


def level_table(eden: bool, bits: int) -> np.ndarray:
    """The (read-only) float64 level of every code: EDEN centroids or uniform levels."""
    return EDEN_CENTROIDS[bits] if eden else UNIFORM_LEVELS[bits]


def quantize_uniform(values: np.ndarray, bits: int, chunk: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic rounding onto 2**bits levels over [-s, s]; returns (f32 scales, uint8 codes)."""
    blocks = _chunked(values, chunk)
    scales = np.abs(blocks).max(axis=1, initial=np.float32(0))
    codes = np.empty(blocks.shape, dtype=np.uint8)
    width = blocks.shape[1]
    for rows in _row_batches(*blocks.shape):
        random_bits = prng.uniform_bits(seed, (rows.stop - rows.start) * width, rows.start * width)
        codes[rows] = _round_rows(blocks[rows], scales[rows], bits, random_bits.reshape(-1, width))
    codes[scales == 0] = 0
    return scales, codes.reshape(-1)[: values.size]


def _round_rows(block: np.ndarray, scales: np.ndarray, bits: int, random_bits: np.ndarray) -> np.ndarray:
    """t = (v / s + 1) (L - 1) / 2, rounded up with probability frac(t): u < f iff bits < f * 2**32."""
    t = block.astype(np.float64)
    t /= np.where(scales > 0, scales, np.float32(1)).astype(np.float64)[:, None]
    t += 1.0
    t *= ((1 << bits) - 1) / 2.0
    low = np.floor(t)
    np.minimum(low, float((1 << bits) - 2), out=low)
    t -= low
    t *= 2.0**32
    low += random_bits < t
    return low.astype(np.uint8)


def dequantize_uniform(
    scales: np.ndarray, codes: np.ndarray, bits: int, chunk: int, dtype: type = np.float64
) -> np.ndarray:
    """Values s * level(code) of :func:`quantize_uniform`, computed in double, stored as ``dtype``."""
    return _scaled_table(level_table(False, bits), scales, codes, chunk, dtype)


def quantize_eden(values: np.ndarray, bits: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-centroid codes and unbiasing scales s2 / dot; returns (f32 scales, uint8 codes)."""
    blocks = _chunked(values, chunk)
    counts = _chunk_counts(values.size, chunk)
    scales = np.empty(blocks.shape[0], dtype=np.float32)
    codes = np.empty(blocks.shape, dtype=np.uint8)
    for rows in _row_batches(*blocks.shape):
        scales[rows], codes[rows] = _eden_rows(blocks[rows], counts[rows], bits)
    check_eden_scales(scales, bits, ValueError)
    return scales, codes.reshape(-1)[: values.size]


def _eden_rows(block: np.ndarray, counts: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Scales and codes of whole chunks (rows), in double."""
    wide = block.astype(np.float64)
    work = np.multiply(wide, wide)
    s2 = _sequential_sums(work)
    codes = _nearest_centroids(wide, np.sqrt(s2 / counts), bits, work)
    np.take(EDEN_CENTROIDS[bits], codes, out=work)
    work *= wide
    dots = _sequential_sums(work)
    with np.errstate(over="ignore"):
        return np.divide(s2, dots, out=np.zeros_like(s2), where=s2 > 0).astype(np.float32), codes


def _nearest_centroids(wide: np.ndarray, sigma: np.ndarray, bits: int, work: np.ndarray) -> np.ndarray:
    """code = #{i : v / sigma >= B_i} (t = 0 for an all-zero chunk), using ``work`` as scratch."""
    if bits == 1:  # the one boundary is 0, and v / sigma >= 0 exactly when v >= 0 (no underflow)
        return (wide >= 0.0).view(np.uint8)
    np.divide(wide, np.where(sigma > 0, sigma, 1.0)[:, None], out=work)
    bounds = EDEN_BOUNDARIES[bits]
    codes = (work >= bounds[0]).view(np.uint8)
    for boundary in bounds[1:]:
        codes += work >= boundary
    return codes


def dequantize_eden(
    scales: np.ndarray, codes: np.ndarray, bits: int, chunk: int, dtype: type = np.float64
) -> np.ndarray:
    """Values S * T[code] of :func:`quantize_eden`, computed in double, stored as ``dtype``."""
    return _scaled_table(EDEN_CENTROIDS[bits], scales, codes, chunk, dtype)


def check_eden_scales(scales: np.ndarray, bits: int, error: type[Exception]) -> None:
    """Raise ``error`` unless every S * max|T| is a finite float32 value (so decoded values are)."""
    peak = scales.astype(np.float64) * EDEN_CENTROIDS[bits][-1]
    if not np.all(peak <= FLOAT32_MAX):
        raise error("eden scale overflows float32")


def _scaled_table(table: np.ndarray, scales: np.ndarray, codes: np.ndarray, chunk: int, dtype: type) -> np.ndarray:
    """scale * table[code] per value: each product in double, then rounded once to ``dtype``.

    Works through whole chunks about _BATCH_VALUES values at a time, so a float64 work buffer
    stays in cache when ``dtype`` is narrower."""
    out = np.empty(codes.size, dtype=dtype)
    factors = scales.astype(np.float64)
    step = max(1, _BATCH_VALUES // chunk) * chunk
    narrow = out.dtype != np.float64
    work = np.empty(min(step, codes.size), dtype=np.float64) if narrow else None
    for start in range(0, codes.size, step):
        stop = min(start + step, codes.size)
        levels = work[: stop - start] if narrow else out[start:stop]
        np.take(table, codes[start:stop], out=levels, mode="clip")  # codes < 2**bits: clip never acts
        scale_chunks(levels, factors[start // chunk :], chunk, out=out[start:stop])
    return out


def scale_chunks(values: np.ndarray, factors: np.ndarray, chunk: int, out: np.ndarray | None = None) -> np.ndarray:
    """``out`` (default: ``values``) := chunk i of ``values`` × ``factors[i]``; the last chunk may be short."""
    out = values if out is None else out
    whole = values.size // chunk * chunk
    rows = values[:whole].reshape(-1, chunk)
    np.multiply(rows, factors[: rows.shape[0], None], out=out[:whole].reshape(rows.shape))
    if whole < values.size:
        np.multiply(values[whole:], factors[-1], out=out[whole:])
    return out


def _row_batches(rows: int, width: int) -> Iterator[slice]:
    """Consecutive row ranges of about _BATCH_VALUES values: float64 temporaries that stay in cache."""
    step = max(1, _BATCH_VALUES // width)
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


def _chunked(values: np.ndarray, chunk: int) -> np.ndarray:
    """Values as rows of ``chunk`` (one shorter row if they all fit in one), the last row zero-padded.

    Padding never exceeds the number of values, whatever ``chunk`` says.
    """
    width = max(1, min(chunk, values.size))
    if values.size % width == 0:
        return values.reshape(-1, width)
    blocks = np.zeros(ceil_div(values.size, width) * width, dtype=values.dtype)
    blocks[: values.size] = values
    return blocks.reshape(-1, width)


def _chunk_counts(count: int, chunk: int) -> np.ndarray:
    """Number of real values in each chunk."""
    counts = np.full(ceil_div(count, chunk), chunk, dtype=np.float64)
    if counts.size:
        counts[-1] = count - chunk * (counts.size - 1)
    return counts


def _sequential_sums(rows: np.ndarray) -> np.ndarray:
    """Row sums added left to right in float64 (cumsum is sequential; np.sum is pairwise).

    Overwrites ``rows`` with the running sums.
    """
    if rows.shape[1] == 0:
        return np.zeros(rows.shape[0])
    return np.cumsum(rows, axis=1, out=rows)[:, -1].copy()
