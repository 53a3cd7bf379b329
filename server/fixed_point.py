"""Fixed-point encoding of named float tensors into integers mod 2^k, for secure aggregation.

Each coordinate is clipped to [-clip, clip], multiplied by a common ``scale`` and stochastically
rounded (unbiased: E[encoded] = scale·x), then stored in two's complement mod 2^k. Sums of encoded
vectors decode exactly as long as they never wrap, which ``fixed_point_scale`` guarantees for up
to ``max_participants`` devices. Tensors are flattened in name order so every party agrees.
"""

from __future__ import annotations

import math

import numpy as np

from server.robust import Tensors

__all__ = ["Layout", "decode_fixed_point", "encode_fixed_point", "fixed_point_scale", "flatten", "unflatten"]

Layout = list[tuple[str, tuple[int, ...]]]


def flatten(tensors: Tensors) -> tuple[np.ndarray, Layout]:
    """One float64 vector of all tensors in sorted-name order, and the layout to undo it."""
    layout = [(name, tuple(np.shape(tensors[name]))) for name in sorted(tensors)]
    parts = [np.asarray(tensors[name], dtype=np.float64).ravel() for name, _ in layout]
    return (np.concatenate(parts) if parts else np.zeros(0)), layout


def unflatten(vector: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """The named tensors of a vector made by ``flatten``."""
    sizes = [math.prod(shape) for _, shape in layout]
    if len(vector) != sum(sizes):
        raise ValueError(f"vector has {len(vector)} values, the layout needs {sum(sizes)}")
    pieces = np.split(np.asarray(vector), np.cumsum(sizes)[:-1]) if layout else []
    return {name: piece.reshape(shape) for (name, shape), piece in zip(layout, pieces)}


def fixed_point_scale(clip: float, max_participants: int, modulus_bits: int) -> float:
    """The largest scale at which ``max_participants`` encoded values in [-clip, clip] cannot wrap."""
    if not (clip > 0 and max_participants > 0):
        raise ValueError("clip and max_participants must be positive")
    per_device = (2 ** (modulus_bits - 1) - 1) // max_participants - 1  # -1: rounding may add one
    if per_device < 1:
        raise ValueError(f"{modulus_bits} bits cannot hold the sum of {max_participants} values")
    return per_device / clip


def encode_fixed_point(
    values: np.ndarray, clip: float, scale: float, modulus_bits: int, rng: np.random.Generator
) -> np.ndarray:
    """Clip, scale and stochastically round; two's complement in the low ``modulus_bits`` bits."""
    scaled = np.clip(np.asarray(values, dtype=np.float64), -clip, clip) * scale
    rounded = np.floor(scaled + rng.random(scaled.shape)).astype(np.int64)
    return rounded.view(np.uint64) & np.uint64((1 << modulus_bits) - 1)


def decode_fixed_point(total: np.ndarray, scale: float, modulus_bits: int) -> np.ndarray:
    """Signed float64 values of a sum of encoded vectors (mod 2^k), divided by ``scale``."""
    unsigned = (np.asarray(total, dtype=np.uint64) & np.uint64((1 << modulus_bits) - 1)).astype(np.int64)
    signed = np.where(unsigned >= 1 << (modulus_bits - 1), unsigned - (1 << modulus_bits), unsigned)
    return signed / scale
