"""Server optimisers over named weights: one FedOpt family, FedAvg to FedYogi as presets.

Reddi et al. (2021), "Adaptive Federated Optimization", Algorithm 2. The round's pseudo-gradient
is the example-weighted mean device delta Δ; per tensor, element-wise:

    m ← β1·m + (1 − β1)·Δ                       (momentum; m = Δ when β1 = 0)
    v ← v + Δ²                                   adaptivity = "adagrad"
    v ← v − (1 − β2)·Δ²·sign(v − Δ²)             adaptivity = "yogi"
    v ← β2·v + (1 − β2)·Δ²                       adaptivity = "adam"
    x ← x + η·m / (√v + τ)   (adaptive)    or    x ← x + η·m   (no adaptivity)

with m₀ = 0 and v₀ = τ². FedAvg is η = 1, β1 = 0, no adaptivity: x ← x + Δ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from server.robust import Tensors, require_finite, require_matching

__all__ = ["ADAPTIVITIES", "FedOpt", "PRESETS", "make_strategy"]

ADAPTIVITIES = (None, "adam", "yogi", "adagrad")

# Chosen by the sweep in docs/aggregation.md (section 1.1). Momentum is 0.5, not the usual 0.9:
# error feedback in the compressing codecs already delays part of every update by a round or
# more, and 0.9 on top of that overshoots and oscillates.
PRESETS: dict[str, dict[str, Any]] = {
    "fedavg": {},
    # The averaging form above at η = 2, β1 = 0.5 is heavy-ball momentum 0.5 at server lr 1
    # (b ← 0.5·b + Δ, x ← x + b): its first step is FedAvg's, its steady-state step twice that.
    "fedavgm": {"server_lr": 2.0, "momentum": 0.5},
    "fedadam": {"server_lr": 0.01, "momentum": 0.5, "adaptivity": "adam"},
    "fedyogi": {"server_lr": 0.01, "momentum": 0.5, "adaptivity": "yogi"},
    "fedadagrad": {"server_lr": 0.03, "adaptivity": "adagrad"},
}

_MOMENTUM, _SECOND_MOMENT, _ROUNDS = "momentum/", "second_moment/", "rounds"


class FedOpt:
    """Applies mean device deltas to the global weights; holds the optimiser state between rounds."""

    def __init__(
        self,
        server_lr: float = 1.0,
        momentum: float = 0.0,
        adaptivity: str | None = None,
        beta_2: float = 0.99,
        tau: float = 1e-3,
        name: str = "fedopt",
    ) -> None:
        if adaptivity not in ADAPTIVITIES:
            raise ValueError(f"adaptivity must be one of {ADAPTIVITIES}, got {adaptivity!r}")
        _require(0 < server_lr < math.inf, f"server_lr must be finite and > 0, got {server_lr}")
        _require(0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum}")
        _require(0 <= beta_2 < 1, f"beta_2 must be in [0, 1), got {beta_2}")
        _require(0 < tau < math.inf, f"tau must be finite and > 0, got {tau}")
        self.server_lr, self.momentum, self.adaptivity = float(server_lr), float(momentum), adaptivity
        self.beta_2, self.tau, self.name = float(beta_2), float(tau), name
        self.rounds = 0
        self._m: dict[str, np.ndarray] = {}
        self._v: dict[str, np.ndarray] = {}

    def apply(self, global_weights: Tensors, mean_delta: Tensors) -> dict[str, np.ndarray]:
        """The next global weights (float32). Validates everything before touching any state."""
        require_matching(global_weights, mean_delta, "mean_delta")
        require_finite(mean_delta, "mean_delta")
        self._require_state_matches(global_weights)
        steps, new_m, new_v = {}, {}, {}
        for name, weight in global_weights.items():
            delta = np.asarray(mean_delta[name], dtype=np.float64)
            steps[name], new_m[name], new_v[name] = self._step(name, delta)
        if self.momentum:
            self._m.update(new_m)
        if self.adaptivity:
            self._v.update(new_v)
        self.rounds += 1
        return {
            name: (np.asarray(weight, dtype=np.float64) + self.server_lr * steps[name]).astype(np.float32)
            for name, weight in global_weights.items()
        }

    def _step(self, name: str, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(update direction, new first moment, new second moment) for one tensor."""
        m = self.momentum * self._m.get(name, 0.0) + (1.0 - self.momentum) * delta
        if self.adaptivity is None:
            return m, m, None
        v = self._v.get(name, np.full_like(delta, self.tau**2))
        square = delta * delta
        if self.adaptivity == "adagrad":
            v = v + square
        elif self.adaptivity == "yogi":
            v = v - (1.0 - self.beta_2) * square * np.sign(v - square)
        else:
            v = self.beta_2 * v + (1.0 - self.beta_2) * square
        return m / (np.sqrt(v) + self.tau), m, v

    def _require_state_matches(self, global_weights: Tensors) -> None:
        for label, state in (("momentum", self._m), ("second moment", self._v)):
            for name, value in state.items():
                if name not in global_weights:
                    raise ValueError(f"{label} state holds tensor {name!r} that the model does not have")
                if value.shape != np.shape(global_weights[name]):
                    raise ValueError(
                        f"{label} state for tensor {name!r} has shape {value.shape}, "
                        f"the model has {np.shape(global_weights[name])}"
                    )

    def state_dict(self) -> dict[str, np.ndarray | float | int]:
        """Round count and moments (keys ``momentum/<tensor>``, ``second_moment/<tensor>``)."""
        state: dict[str, np.ndarray | float | int] = {_ROUNDS: self.rounds}
        state.update({_MOMENTUM + name: value.copy() for name, value in self._m.items()})
        state.update({_SECOND_MOMENT + name: value.copy() for name, value in self._v.items()})
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray | float | int]) -> None:
        """Resume from ``state_dict`` output; moments this configuration does not use are refused."""
        m, v = {}, {}
        for key, value in state.items():
            if key == _ROUNDS:
                continue
            target = m if key.startswith(_MOMENTUM) else v if key.startswith(_SECOND_MOMENT) else None
            if target is None:
                raise ValueError(f"unknown optimiser state key {key!r}")
            name = key.split("/", 1)[1]
            target[name] = np.array(value, dtype=np.float64)
            require_finite({name: target[name]}, "optimiser state")
        if (m and not self.momentum) or (v and not self.adaptivity):
            raise ValueError(f"optimiser state does not fit {self.describe()}")
        self._m, self._v, self.rounds = m, v, int(state.get(_ROUNDS, 0))

    def describe(self) -> dict[str, Any]:
        """Name and hyper-parameters, for logs and the dashboard."""
        return {
            "name": self.name,
            "server_lr": self.server_lr,
            "momentum": self.momentum,
            "adaptivity": self.adaptivity,
            "beta_2": self.beta_2,
            "tau": self.tau,
        }


def make_strategy(name: str, **params: Any) -> FedOpt:
    """A FedOpt preset by name (``fedavg``, ``fedavgm``, ``fedadam``, ``fedyogi``, ``fedadagrad``),
    with any hyper-parameter overridden by keyword."""
    if name not in PRESETS:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(PRESETS)}")
    allowed = {"server_lr", "momentum", "adaptivity", "beta_2", "tau"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown strategy parameter {unknown[0]!r}; accepted: {sorted(allowed)}")
    return FedOpt(**{**PRESETS[name], **params}, name=name)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
