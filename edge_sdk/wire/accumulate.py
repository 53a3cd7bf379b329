"""Coded values decoded straight into float64 running sums: the aggregation hot path.

A quantised value is ``scale × level(code)`` per chunk (docs/wire-format.md §3.5, §3.6). For an
affine level table (``uniform``; ``eden`` at 1 bit) ``level(c) = slope × (c − center)``, so

    weight × value = (weight × scale × slope) × (code − center)

is one cast of the codes to float64, one shift and one multiply by a per-chunk factor, all
vectorised over a (chunks, chunk) view of a reusable scratch buffer. Other tables (``eden`` at 2
and 4 bits) are one table lookup instead of the cast and shift. f32/f16 values are added with
one ``np.add``. Per update, only per-chunk factors are allocated (and, for a tensor whose
rotation differs from the one its sum shares, that tensor's coded domain; for random-k, the
indices recomputed from the seed).

The results equal the reference decoder's (``scale × level`` in double, times the weight, added)
within float64 rounding: a few units in the last place of each term, not bit for bit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from edge_sdk.wire.encoding import Eden, Quantiser
from edge_sdk.wire.pipeline import ParsedTensor
from edge_sdk.wire.quantize import level_table, scale_chunks


class Scratch:
    """Reusable work buffers, by purpose; use one per thread (they are not shared safely)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, purpose: str, size: int, dtype: type = np.float64) -> np.ndarray:
        """An uninitialised array of ``size`` elements, reused across calls with the same purpose."""
        buffer = self._buffers.get(purpose)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = self._buffers[purpose] = np.empty(max(size, 1), dtype=dtype)
        return buffer[:size]


@dataclass(frozen=True)
class _Levels:
    """A quantiser's level table, and its affine form ``slope × (code − center)`` if it has one."""

    table: np.ndarray
    slope: float | None
    center: float


@functools.lru_cache(maxsize=None)
def _levels(eden: bool, bits: int) -> _Levels:
    """Uniform levels are equally spaced by definition, and so is any two-entry table."""
    table = level_table(eden, bits)
    if eden and bits > 1:
        return _Levels(table, None, 0.0)
    top = (1 << bits) - 1
    return _Levels(table, float(table[-1] - table[0]) / top, top / 2)


def add_weighted(total: np.ndarray, tensor: ParsedTensor, weight: float, scratch: Scratch) -> None:
    """``total += weight × (the tensor's coded-domain values)``; sparse values land at their indices.

    ``total`` is float64 of the coded-domain length (m).
    """
    indices = tensor.coded_indices()
    if indices is None and weight == 1.0 and not isinstance(tensor.encoding.values, Quantiser):
        np.add(total, tensor.float_values(), out=total)  # float32/16 → float64 is exact
        return
    values = weighted_values(tensor, weight, scratch.get("values", tensor.layout.count))
    if indices is None:
        np.add(total, values, out=total)
    else:
        total[indices] += values


def weighted_values(tensor: ParsedTensor, weight: float, out: np.ndarray, *, exact: bool = False) -> np.ndarray:
    """``out`` (float64, ``count`` long) := weight × the tensor's coded values, in stream order.

    With ``exact`` (and weight 1) every value is the reference decoder's ``scale × level`` bit for
    bit (a table lookup instead of the affine form).
    """
    coding = tensor.encoding.values
    if not isinstance(coding, Quantiser):
        return np.multiply(tensor.float_values(), np.float64(weight), out=out)
    levels = _levels(isinstance(coding, Eden), coding.bits)
    if exact or levels.slope is None:
        np.take(levels.table, tensor.body, out=out, mode="clip")  # codes < 2**bits: clip never acts
        factors = tensor.scales.astype(np.float64) * weight
    else:
        np.copyto(out, tensor.body)
        np.subtract(out, levels.center, out=out)
        factors = tensor.scales.astype(np.float64) * (weight * levels.slope)
    return scale_chunks(out, factors, coding.chunk)


def decoded_into(tensor: ParsedTensor, scratch: Scratch) -> np.ndarray:
    """The tensor's flat values in float64 (before the reader's rounding to float32), in ``scratch``."""
    indices = tensor.coded_indices()
    values = weighted_values(tensor, 1.0, scratch.get("values", tensor.layout.count), exact=True)
    if indices is not None:
        dense = scratch.get("dense", tensor.layout.m)
        dense[:] = 0.0
        dense[indices] = values
        values = dense
    return tensor.unrotated(values, overwrite=True)


def squared_norm(tensor: ParsedTensor, scratch: Scratch) -> float:
    """Σ x² over the tensor's float32 decoded values, summed in float64."""
    values = decoded_into(tensor, scratch)
    rounded = scratch.get("float32", values.size, np.float32)
    np.copyto(rounded, values, casting="same_kind")
    np.copyto(values, rounded)  # float32 → float64 is exact, and so is each square below
    np.multiply(values, values, out=values)
    return float(values.sum())  # numpy's pairwise sum (no BLAS: its threads would spin on a busy server)


def l2_norm(tensors: list[ParsedTensor], scratch: Scratch) -> float:
    """The L2 norm over all ``tensors`` of their float32 decoded values."""
    return math.sqrt(sum(squared_norm(tensor, scratch) for tensor in tensors))
