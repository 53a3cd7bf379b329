"""Aggregation over named tensors: weighted mean, norm bounding, trimmed mean, coordinate median.

Pure numpy over ``dict[str, ndarray]``; every result is float64 so it can feed a running sum or
``FedOpt.apply``. An *update* is a pair ``(tensors, weight)`` where the weight is the device's
example count. Trimmed mean and median need every update at once (the server reads a round's
updates back from its update log); the mean streams into a weighted running sum instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "Tensors",
    "Update",
    "clip_factor",
    "clip_to_norm",
    "coordinate_median",
    "l2_norm",
    "require_finite",
    "require_matching",
    "trimmed_mean",
    "weighted_mean",
]

Tensors = Mapping[str, np.ndarray]
Update = tuple[Tensors, float]


def require_matching(expected: Tensors, actual: Tensors, what: str) -> None:
    """Raise ValueError naming the first tensor that ``actual`` lacks, adds or shapes differently."""
    missing = [name for name in expected if name not in actual]
    if missing:
        raise ValueError(f"{what} is missing tensor {missing[0]!r}")
    extra = [name for name in actual if name not in expected]
    if extra:
        raise ValueError(f"{what} has unexpected tensor {extra[0]!r}")
    for name, tensor in expected.items():
        if np.shape(actual[name]) != np.shape(tensor):
            raise ValueError(
                f"tensor {name!r} in {what} has shape {np.shape(actual[name])}, expected {np.shape(tensor)}"
            )


def require_finite(tensors: Tensors, what: str) -> None:
    """Raise ValueError naming the first tensor holding NaN or infinity."""
    for name, tensor in tensors.items():
        if not np.all(np.isfinite(tensor)):
            raise ValueError(f"tensor {name!r} in {what} holds NaN or infinite values")


def l2_norm(tensors: Tensors) -> float:
    """Global L2 norm over all tensors, accumulated in float64."""
    squares = sum(float(np.sum(np.square(np.asarray(t, dtype=np.float64)))) for t in tensors.values())
    return math.sqrt(squares)


def clip_factor(l2_norm: float, bound: float) -> float:
    """Scale that bounds an update's norm: ``min(1, bound / l2_norm)`` (1 for a zero update)."""
    if not bound > 0 or math.isinf(bound):
        raise ValueError(f"norm bound must be positive and finite, got {bound}")
    if not 0 <= l2_norm < math.inf:
        raise ValueError(f"update norm must be finite and >= 0, got {l2_norm}")
    return 1.0 if l2_norm <= bound else bound / l2_norm


def clip_to_norm(tensors: Tensors, bound: float) -> tuple[dict[str, np.ndarray], float]:
    """The update scaled to global L2 norm at most ``bound`` (float64), and the factor used."""
    factor = clip_factor(l2_norm(tensors), bound)
    return {name: np.asarray(t, dtype=np.float64) * factor for name, t in tensors.items()}, factor


def weighted_mean(updates: Sequence[Update]) -> dict[str, np.ndarray]:
    """Example-weighted mean ``sum(w_i * u_i) / sum(w_i)`` of the updates."""
    weights = _checked_weights(updates)
    first = updates[0][0]
    total = weights.sum()
    return {
        name: sum(w * np.asarray(u[name], dtype=np.float64) for (u, _), w in zip(updates, weights)) / total
        for name in first
    }


def trimmed_mean(updates: Sequence[Update], trim_fraction: float) -> dict[str, np.ndarray]:
    """Coordinate-wise trimmed mean (Yin et al. 2018).

    Per coordinate, the ``k = floor(trim_fraction * n)`` smallest and ``k`` largest values are
    dropped *by count*, so a device cannot escape trimming by claiming many examples; the
    survivors are then averaged with their example weights. The result lies within the range of
    the surviving values, so up to ``k`` arbitrary updates move it no further than honest ones.
    """
    n = len(updates)
    if not 0.0 <= trim_fraction < 0.5:
        raise ValueError(f"trim_fraction must be in [0, 0.5), got {trim_fraction}")
    weights = _checked_weights(updates)
    k = math.floor(trim_fraction * n)
    result = {}
    for name in updates[0][0]:
        values = _stacked(updates, name)
        kept = np.argsort(values, axis=0, kind="stable")[k : n - k]
        kept_weights = weights[kept]
        result[name] = np.sum(np.take_along_axis(values, kept, axis=0) * kept_weights, axis=0) / np.sum(
            kept_weights, axis=0
        )
    return result


def coordinate_median(updates: Sequence[Update]) -> dict[str, np.ndarray]:
    """Coordinate-wise median (Yin et al. 2018); the mean of the two middle values for even n.

    Example weights are checked but deliberately not used: they are self-reported, and a weighted
    median would let a single device that claims enough examples choose every coordinate. The
    plain median tolerates any minority of arbitrary updates.
    """
    _checked_weights(updates)
    return {name: np.median(_stacked(updates, name), axis=0) for name in updates[0][0]}


def _checked_weights(updates: Sequence[Update]) -> np.ndarray:
    """Validate layouts and values; return the weights as float64."""
    if not updates:
        raise ValueError("cannot aggregate zero updates")
    first = updates[0][0]
    for index, (tensors, _) in enumerate(updates):
        require_matching(first, tensors, f"update {index}")
        require_finite(tensors, f"update {index}")
    weights = np.array([float(weight) for _, weight in updates], dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(weights) & (weights > 0)))
    if bad.size:
        raise ValueError(f"update {bad[0]} has weight {weights[bad[0]]}; weights must be positive and finite")
    return weights


def _stacked(updates: Sequence[Update], name: str) -> np.ndarray:
    return np.stack([np.asarray(tensors[name], dtype=np.float64) for tensors, _ in updates])
