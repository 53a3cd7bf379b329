"""Small shared pieces for the codec tests: weight-spec stand-ins and realistic deltas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SHAPES: dict[str, tuple[int, ...]] = {
    "dense/kernel": (40, 30),
    "dense/bias": (30,),
    "conv/kernel": (3, 3, 4, 8),
    "head/kernel": (300,),
    "step_scale": (),
}


@dataclass(frozen=True)
class Spec:
    """Stands in for edge_sdk.wire.manifest.WeightSpec: the decoders need only name and shape."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


def specs_of(tensors: Mapping[str, np.ndarray]) -> list[Spec]:
    return [Spec(name, tuple(array.shape)) for name, array in tensors.items()]


def heavy_tailed(
    seed: int, shapes: Mapping[str, tuple[int, ...]] = SHAPES, scale: float = 1e-2
) -> dict[str, np.ndarray]:
    """Student-t(3) values with a per-tensor scale, as float32."""
    rng = np.random.default_rng(seed)
    return {
        name: (rng.standard_t(3, size=shape) * scale * 10.0 ** rng.uniform(-1, 1)).astype(np.float32)
        for name, shape in shapes.items()
    }


def sq_error(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    """Sum of squared differences over all tensors, in float64."""
    return sum(float(np.sum((np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)) ** 2)) for k in a)


def energy(a: Mapping[str, np.ndarray]) -> float:
    return sum(float(np.sum(np.asarray(v, np.float64) ** 2)) for v in a.values())
