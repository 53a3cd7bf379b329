"""Weighted sums of decoded updates in float64, memory O(model) however many are added.

Rotated tensors are summed in the rotated (coded) domain while they share a rotation (same
block and seed, as when a round hands every device one rotation seed) and un-rotated once in
``result``; a tensor with a different rotation is un-rotated on its own and summed directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge_sdk.wire.encoding import HadamardParams
from edge_sdk.wire.pipeline import ParsedTensor
from edge_sdk.wire.specs import WeightLike, spec_shapes
from edge_sdk.wire.update import DecodedUpdate


class _TensorSum:
    """Running sums of one tensor: plain (tensor domain) and rotated (one shared rotation)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.plain: np.ndarray | None = None
        self.rotated: np.ndarray | None = None
        self.rotation: HadamardParams | None = None
        self.template: ParsedTensor | None = None

    def add(self, tensor: ParsedTensor, weight: float) -> None:
        rotation = tensor.encoding.rotation
        if rotation is not None and self.rotation in (None, rotation):
            self.rotation, self.template = rotation, tensor
            self.rotated = _accumulate(self.rotated, tensor, weight, tensor.layout.m)
            return
        if rotation is None:
            self.plain = _accumulate(self.plain, tensor, weight, tensor.layout.n)
            return
        flat = tensor.unrotated(tensor.coded_domain(), overwrite=True)
        self.plain = _zeros_if_none(self.plain, flat.size)
        self.plain += weight * flat

    def result(self) -> np.ndarray:
        total = _zeros_if_none(self.plain, math.prod(self.shape)).copy()
        if self.rotated is not None:
            total += self.template.unrotated(self.rotated)
        return total.reshape(self.shape)


def _zeros_if_none(array: np.ndarray | None, size: int) -> np.ndarray:
    return np.zeros(size, dtype=np.float64) if array is None else array


def _accumulate(total: np.ndarray | None, tensor: ParsedTensor, weight: float, size: int) -> np.ndarray:
    """total + weight * (the tensor's coded-domain values), adding sparse values in place."""
    total = _zeros_if_none(total, size)
    values, indices = tensor.coded_values(), tensor.coded_indices()
    values *= weight
    if indices is None:
        total += values
    else:
        total[indices] += values
    return total


class UpdateSum:
    """Σ weight × update over added updates, per tensor, in float64.

    For norm bounding, pass ``weight * min(1, bound / update.l2_norm())``.
    """

    def __init__(self, weights: Sequence[WeightLike]) -> None:
        self._shapes = spec_shapes(weights)
        self._sums = {name: _TensorSum(shape) for name, shape in self._shapes.items()}
        self.total_weight = 0.0
        self.count = 0

    def add(self, update: DecodedUpdate, weight: float) -> None:
        """Add ``weight`` × update; ValueError if the update does not fit these weights."""
        weight = float(weight)
        if not math.isfinite(weight):
            raise ValueError(f"weight must be finite, got {weight}")
        if set(update.names) != set(self._shapes):
            raise ValueError("update tensors do not match the weights of this sum")
        for name, total in self._sums.items():
            tensor = update.parsed(name)
            if tensor.shape != self._shapes[name]:
                raise ValueError(f"tensor {name!r}: shape {list(tensor.shape)}, expected {list(self._shapes[name])}")
            total.add(tensor, weight)
        self.total_weight += weight
        self.count += 1

    def result(self) -> dict[str, np.ndarray]:
        """name → float64 weighted sum (divide by ``total_weight`` for the weighted mean)."""
        return {name: total.result() for name, total in self._sums.items()}
