"""Weighted sums of decoded updates in float64, memory O(model) however many are added.

Rotated tensors are summed in the rotated (coded) domain while they share a rotation (same
block and seed, as when a round hands every device one rotation seed) and un-rotated once in
``result``; a tensor with a different rotation is un-rotated on its own and summed directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge_sdk.wire.accumulate import Scratch, add_weighted
from edge_sdk.wire.encoding import HadamardParams
from edge_sdk.wire.kernels import FAST
from edge_sdk.wire.pipeline import ParsedTensor
from edge_sdk.wire.specs import WeightLike, spec_shapes
from edge_sdk.wire.update import DecodedUpdate


class _TensorSum:
    """Running sums of one tensor: plain (tensor domain) and rotated (one shared rotation)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.size = math.prod(shape)
        self.plain: np.ndarray | None = None
        self.rotated: np.ndarray | None = None
        self.rotation: HadamardParams | None = None

    def add(self, tensor: ParsedTensor, weight: float, scratch: Scratch) -> None:
        rotation = tensor.encoding.rotation
        if rotation is not None and self.rotation in (None, rotation):
            self.rotation = rotation
            self.rotated = _zeros_if_none(self.rotated, tensor.layout.m)
            add_weighted(self.rotated, tensor, weight, scratch)
            return
        self.plain = _zeros_if_none(self.plain, self.size)
        if rotation is None:
            add_weighted(self.plain, tensor, weight, scratch)
            return
        coded = np.zeros(tensor.layout.m)
        add_weighted(coded, tensor, weight, scratch)
        self.plain += tensor.unrotated(coded, overwrite=True)

    def result(self) -> np.ndarray:
        total = _zeros_if_none(self.plain, self.size).copy()
        if self.rotated is not None:
            total += FAST.unrotate(self.rotated, self.rotation.log2_block, self.rotation.seed, self.size)
        return total.reshape(self.shape)


def _zeros_if_none(array: np.ndarray | None, size: int) -> np.ndarray:
    return np.zeros(size, dtype=np.float64) if array is None else array


class UpdateSum:
    """Σ weight × update over added updates, per tensor, in float64.

    For norm bounding, pass ``weight * min(1, bound / update.l2_norm())``. Coded values are decoded
    straight into the sums (``edge_sdk.wire.accumulate``); one instance is used by one thread at a time.
    """

    def __init__(self, weights: Sequence[WeightLike]) -> None:
        self._shapes = spec_shapes(weights)
        self._sums = {name: _TensorSum(shape) for name, shape in self._shapes.items()}
        self._scratch = Scratch()
        self.total_weight = 0.0
        self.count = 0

    def add(self, update: DecodedUpdate, weight: float) -> None:
        """Add ``weight`` × update; ValueError (and no change) if the update does not fit these weights."""
        weight = float(weight)
        if not math.isfinite(weight):
            raise ValueError(f"weight must be finite, got {weight}")
        for name, tensor in self._matching(update):
            self._sums[name].add(tensor, weight, self._scratch)
        self.total_weight += weight
        self.count += 1

    def _matching(self, update: DecodedUpdate) -> list[tuple[str, ParsedTensor]]:
        """The update's tensors by name, once all of them are checked against these weights."""
        if set(update.names) != set(self._shapes):
            raise ValueError("update tensors do not match the weights of this sum")
        tensors = [(name, update.parsed(name)) for name in self._shapes]
        for name, tensor in tensors:
            if tensor.shape != self._shapes[name]:
                raise ValueError(f"tensor {name!r}: shape {list(tensor.shape)}, expected {list(self._shapes[name])}")
        return tensors

    def result(self) -> dict[str, np.ndarray]:
        """name → float64 weighted sum (divide by ``total_weight`` for the weighted mean)."""
        return {name: total.result() for name, total in self._sums.items()}
