"""Device-level differential privacy for the aggregate: DP-FedAvg's clip-and-noise step.

McMahan et al. (2018), "Learning Differentially Private Recurrent Language Models": every
device's delta is clipped to L2 norm C and weighted equally, the clipped deltas are summed,
Gaussian noise N(0, (z·C)²) is added to every coordinate of the sum, and the result is divided by
the *expected* number of participants q·N rather than the number that arrived. With the fixed
denominator one device changes the released value by at most C / (q·N) whether it is in or out,
and the count itself is never released; dividing by the observed count would leak it and break
the sensitivity bound. The accountant in ``server.accountant`` turns (q, z, rounds) into (ε, δ).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from server.accountant import PrivacyAccountant
from server.robust import Tensors, clip_to_norm, require_finite

__all__ = ["DPConfig", "GaussianMechanism", "secure_generator"]


@dataclass(frozen=True)
class DPConfig:
    """Noise multiplier z, clip norm C, the δ at which ε is reported, and an optional ε budget."""

    noise_multiplier: float
    clip_norm: float
    target_delta: float = 1e-5
    max_epsilon: float | None = None

    def __post_init__(self) -> None:
        if not (self.noise_multiplier >= 0 and math.isfinite(self.noise_multiplier)):
            raise ValueError(f"noise_multiplier must be finite and >= 0, got {self.noise_multiplier}")
        if not (self.clip_norm > 0 and math.isfinite(self.clip_norm)):
            raise ValueError(f"clip_norm must be finite and > 0, got {self.clip_norm}")
        if not 0 < self.target_delta < 1:
            raise ValueError(f"target_delta must be in (0, 1), got {self.target_delta}")
        if self.max_epsilon is not None and not self.max_epsilon > 0:
            raise ValueError(f"max_epsilon must be > 0 or None, got {self.max_epsilon}")

    @property
    def noise_std(self) -> float:
        """Standard deviation z·C of the noise added to each coordinate of the sum."""
        return self.noise_multiplier * self.clip_norm

    def accountant(self, expected_participants: float, population: int) -> PrivacyAccountant:
        """An accountant for rounds that sample ``expected_participants`` of ``population`` devices."""
        if not 0 < expected_participants <= population:
            raise ValueError(
                f"expected participants must be in (0, population={population}], got {expected_participants}"
            )
        return PrivacyAccountant(expected_participants / population, self.noise_multiplier, self.target_delta)


def secure_generator() -> np.random.Generator:
    """A numpy Generator seeded with 128 bits from the operating system's CSPRNG."""
    return np.random.default_rng(secrets.randbits(128))


class GaussianMechanism:
    """Clips device deltas and releases the noisy fixed-denominator mean of their sum."""

    def __init__(self, config: DPConfig, rng: np.random.Generator | None = None) -> None:
        self.config = config
        self._rng = rng if rng is not None else secure_generator()

    def clip(self, delta: Tensors) -> dict[str, np.ndarray]:
        """The delta scaled to global L2 norm at most C (float64), ready to add to the sum."""
        require_finite(delta, "update")
        return clip_to_norm(delta, self.config.clip_norm)[0]

    def noise(
        self, shape_by_name: Mapping[str, tuple[int, ...]], rng: np.random.Generator | None = None
    ) -> dict[str, np.ndarray]:
        """Independent N(0, (z·C)²) float64 noise for each named shape."""
        generator = rng if rng is not None else self._rng
        std = self.config.noise_std
        return {name: generator.normal(0.0, std, size=tuple(shape)) for name, shape in shape_by_name.items()}

    def noisy_mean(self, clipped_sum: Tensors, expected_participants: float) -> dict[str, np.ndarray]:
        """``(clipped_sum + noise) / expected_participants``: the round's private mean delta."""
        if not expected_participants > 0:
            raise ValueError(f"expected_participants must be > 0, got {expected_participants}")
        noise = self.noise({name: np.shape(total) for name, total in clipped_sum.items()})
        return {
            name: (np.asarray(total, dtype=np.float64) + noise[name]) / expected_participants
            for name, total in clipped_sum.items()
        }
