"""Turning a round's accepted updates into the next global weights.

:class:`RoundAccumulator` adds each accepted update into a float64 running sum as it arrives
(memory O(model), whatever the number of updates). :class:`Aggregator` ends a round: the mean
delta (or a robust or differentially private variant) goes through the configured FedOpt
strategy. Robust trimmed mean and median need every update at once; they read the round's
updates back from the update log when the round closes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.wire.manifest import WeightSpec
from server import codec
from server.ingest import CheckedUpdate
from server.privacy import DPConfig, GaussianMechanism
from server.robust import clip_factor, coordinate_median, trimmed_mean
from server.strategies import make_strategy

AGGREGATORS = ("mean", "trimmed_mean", "median")


@dataclass(frozen=True)
class AggregationConfig:
    """Strategy, robust options and differential privacy; see docs/server.md."""

    strategy: str = "fedavg"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    aggregator: str = "mean"
    trim_fraction: float = 0.1
    clip_norm: float | None = None
    dp: DPConfig | None = None
    dp_population: int = 0

    def __post_init__(self) -> None:
        if self.aggregator not in AGGREGATORS:
            raise ValueError(f"aggregator must be one of {AGGREGATORS}, got {self.aggregator!r}")
        if self.dp is not None and self.aggregator != "mean":
            raise ValueError("differential privacy works with the 'mean' aggregator only")
        make_strategy(self.strategy, **self.strategy_params)

    @property
    def needs_norms(self) -> bool:
        """Whether each update's L2 norm is needed (clipping or differential privacy)."""
        return self.clip_norm is not None or self.dp is not None


class RoundAccumulator:
    """Running float64 sums of one round's accepted updates, plus its statistics."""

    def __init__(self, specs: Sequence[WeightSpec], config: AggregationConfig) -> None:
        self.config = config
        self.sum = codec.new_sum(specs)
        self.count = 0
        self.examples = 0
        self.weight = 0.0
        self.bytes = 0
        self.metric_totals: dict[str, float] = {}

    def add(self, checked: CheckedUpdate, factor: float, nbytes: int) -> None:
        """Count one durable update; ``factor`` is its staleness weight (1 in sync mode)."""
        weight = checked.meta.num_examples * factor
        if self.config.dp is not None:
            self.sum.add(checked.decoded, clip_factor(checked.norm, self.config.dp.clip_norm))
        elif self.config.clip_norm is not None:
            self.sum.add(checked.decoded, weight * clip_factor(checked.norm, self.config.clip_norm))
        else:
            self.sum.add(checked.decoded, weight)
        self.count += 1
        self.examples += checked.meta.num_examples
        self.weight += weight
        self.bytes += nbytes
        for name, value in checked.meta.metrics.items():  # finite: UpdateMeta checked them
            self.metric_totals[name] = self.metric_totals.get(name, 0.0) + value * checked.meta.num_examples

    def mean_metrics(self) -> dict[str, float]:
        """Example-weighted means of the devices' reported metrics."""
        return {name: total / self.examples for name, total in self.metric_totals.items()} if self.examples else {}

    def mean_delta(self) -> dict[str, np.ndarray]:
        """The weighted mean delta (float64)."""
        return {name: total / self.weight for name, total in self.sum.result().items()}


UpdateLoader = Callable[[], list[tuple[dict[str, np.ndarray], float]]]


class Aggregator:
    """The server optimiser and privacy mechanism, with their state across rounds."""

    def __init__(self, config: AggregationConfig, expected_participants: int) -> None:
        self.config = config
        self.expected = expected_participants
        self.strategy = make_strategy(config.strategy, **config.strategy_params)
        self.mechanism = GaussianMechanism(config.dp) if config.dp else None
        self.accountant = (
            config.dp.accountant(expected_participants, max(config.dp_population, expected_participants))
            if config.dp else None
        )

    def next_weights(self, trainable: dict[str, np.ndarray], accumulator: RoundAccumulator,
                     load_updates: UpdateLoader) -> dict[str, np.ndarray]:
        """The new trainable weights after one round."""
        delta = self._delta(accumulator, load_updates)
        new = self.strategy.apply(trainable, delta)
        if self.accountant is not None:
            self.accountant.step()
        return {name: np.asarray(value, dtype=np.float32) for name, value in new.items()}

    def _delta(self, accumulator: RoundAccumulator, load_updates: UpdateLoader) -> dict[str, np.ndarray]:
        if self.mechanism is not None:
            return self.mechanism.noisy_mean(accumulator.sum.result(), self.expected)
        if self.config.aggregator == "trimmed_mean":
            return trimmed_mean(self._bounded(load_updates()), self.config.trim_fraction)
        if self.config.aggregator == "median":
            return coordinate_median(self._bounded(load_updates()))
        return accumulator.mean_delta()

    def _bounded(self, updates: list[tuple[dict[str, np.ndarray], float]]) -> list[tuple[dict[str, np.ndarray], float]]:
        """The updates scaled down to ``clip_norm`` (as the mean's running sum does), if it is set."""
        if self.config.clip_norm is None:
            return updates
        bounded = []
        for tensors, weight in updates:
            norm = float(np.sqrt(sum(np.vdot(t, t) for t in tensors.values())))
            factor = clip_factor(norm, self.config.clip_norm)
            bounded.append(({name: t * factor for name, t in tensors.items()}, weight))
        return bounded

    def epsilon(self) -> float | None:
        """The privacy spent so far (ε at the configured δ), if DP is on."""
        return None if self.accountant is None else float(self.accountant.epsilon())

    def budget_exhausted(self) -> bool:
        """Whether one more round would exceed the configured ε budget."""
        dp = self.config.dp
        if self.accountant is None or dp is None or dp.max_epsilon is None:
            return False
        return bool(self.accountant.would_exceed(dp.max_epsilon))

    def state_bytes(self) -> bytes:
        """The optimiser (and accountant) state, as .npz bytes."""
        arrays = {f"strategy/{k}": np.asarray(v) for k, v in self.strategy.state_dict().items()}
        if self.accountant is not None:
            arrays |= {f"accountant/{k}": np.asarray(v) for k, v in self.accountant.state_dict().items()}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def load_state_bytes(self, data: bytes) -> None:
        """Restore what :meth:`state_bytes` saved."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        self.strategy.load_state_dict(_section(arrays, "strategy/"))
        if self.accountant is not None:
            self.accountant.load_state_dict(_section(arrays, "accountant/"))


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    return {key[len(prefix):]: (value.item() if value.ndim == 0 else value)
            for key, value in arrays.items() if key.startswith(prefix)}
