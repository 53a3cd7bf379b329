"""The knobs of a federated run, shared by ``fedlite demo``, ``fedlite simulate`` and the benchmark.

:class:`RunSettings` is validated when built (a ``ValueError`` names the bad option) and turns
into the server's configuration sections (``server.config``), so the demo's ``fedlite serve``
flags and the simulator's in-process server come from the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from edge_sdk.wire.presets import PRESETS

# The codec the demo and the simulator use unless told otherwise: the best accuracy-per-bit
# trade-off that benchmarks/federated.py measures on the example task (about 0.75 bits per parameter).
DEFAULT_CODEC = "rot-randk50-1bit"
STRATEGIES = ("fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad")
MODES = ("sync", "async")


@dataclass(frozen=True)
class RunSettings:
    """One federated training run on the example task."""

    devices: int = 10
    rounds: int = 30
    codec: str = DEFAULT_CODEC
    strategy: str = "fedavg"
    strategy_params: Mapping[str, float] = field(default_factory=dict)  # overrides of the preset (server_lr, ...)
    alpha: float = 0.5
    seed: int = 0
    epochs: int = 3
    mode: str = "sync"
    round_size: int | None = None  # updates per round (async: per buffer); None: every device
    over_selection: float = 1.3
    min_quorum: int | None = None  # fewest updates a round publishes at its deadline; None: half
    deadline_s: float = 60.0
    max_staleness: int = 10

    def __post_init__(self) -> None:
        _require(self.devices >= 1, f"--devices must be at least 1, got {self.devices}")
        _require(self.rounds >= 1, f"--rounds must be at least 1, got {self.rounds}")
        _require(self.codec in PRESETS, f"--codec {self.codec!r} is not a codec; choose one of {', '.join(PRESETS)}")
        _require(self.strategy in STRATEGIES,
                 f"--strategy {self.strategy!r} is not a strategy; choose one of {', '.join(STRATEGIES)}")
        if self.strategy_params:
            _check_strategy(self.strategy, self.strategy_params)
        _require(math.isfinite(self.alpha) and self.alpha > 0, f"--alpha must be a positive number, got {self.alpha}")
        _require(0 <= self.seed < 2**32, f"--seed must be in [0, 2^32), got {self.seed}")
        _require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _require(self.mode in MODES, f"--mode must be sync or async, got {self.mode!r}")
        _require(1 <= self.target <= self.devices,
                 f"--round-size must be between 1 and the number of devices ({self.devices}), got {self.target}")
        _require(self.over_selection >= 1, f"--over-selection must be at least 1, got {self.over_selection}")
        _require(1 <= self.quorum <= self.target, f"--min-quorum must be between 1 and the round size, got {self.quorum}")
        _require(self.deadline_s > 0, f"--deadline must be positive, got {self.deadline_s}")

    @property
    def target(self) -> int:
        """Updates that complete a round (async: a buffer)."""
        return self.devices if self.round_size is None else self.round_size

    @property
    def quorum(self) -> int:
        """Fewest updates that still publish a round at its deadline."""
        return max(1, self.target // 2) if self.min_quorum is None else self.min_quorum

    def resolved(self) -> dict[str, Any]:
        """The settings as a plain dict, with the round size and quorum defaults filled in."""
        return {**asdict(self), "round_size": self.target, "min_quorum": self.quorum}

    def server_sections(self) -> dict[str, dict[str, Any]]:
        """The ``rounds``, ``training`` and ``aggregation`` sections of the server's configuration."""
        rounds = {"mode": self.mode, "target": self.target, "over_selection": self.over_selection,
                  "min_quorum": self.quorum, "deadline_s": self.deadline_s, "max_rounds": self.rounds,
                  "max_staleness": self.max_staleness, "retry_min_s": 0, "retry_max_s": 1}
        return {"rounds": rounds, "training": {"codec": self.codec, "epochs": self.epochs},
                "aggregation": {"strategy": self.strategy, "strategy_params": dict(self.strategy_params)}}


def _check_strategy(name: str, params: Mapping[str, float]) -> None:
    """ValueError naming a bad override of the strategy preset ``name``."""
    from server.strategies import make_strategy

    make_strategy(name, **params)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
