"""Wiring: a configured engine with its history, held-out evaluation and initial weights."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from server.config import ServerConfig
from server.engine import Engine
from server.history import History
from server.model_source import Evaluator, initial_weights


class RoundReporter:
    """After each round: evaluate the new global weights (in a worker thread) and log history."""

    def __init__(self, engine: Engine, history: History, evaluator: Evaluator | None) -> None:
        self.engine = engine
        self.history = history
        self.evaluator = evaluator
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fedlite-eval")

    def __call__(self, number: int, weights: dict[str, np.ndarray], stats: dict[str, Any]) -> None:
        self._worker.submit(self._report, number, weights, dict(stats))

    def _report(self, number: int, weights: dict[str, np.ndarray], stats: dict[str, Any]) -> None:
        record = {"round": number, "time": time.time(), **stats}
        if self.evaluator is not None and stats.get("outcome") in ("published", "initial"):
            record["eval"] = self.evaluator.evaluate(weights)
            for name in ("accuracy", "loss"):
                if name in record["eval"]:
                    self.engine.metrics.set(f"fedlite_eval_{name}", record["eval"][name])
        self.history.append(record)

    def evaluate_initial(self) -> None:
        """Evaluate version 0 once so the history starts from the untrained model."""
        if self.evaluator is not None and not self.history.read():
            rounds = self.engine.rounds
            self._worker.submit(self._report, 0, rounds.weights, {"outcome": "initial", "version": rounds.version})

    def close(self) -> None:
        """Finish pending evaluations."""
        self._worker.shutdown(wait=True)


def build_engine(config: ServerConfig, model_bytes: bytes) -> tuple[Engine, RoundReporter]:
    """An open engine serving ``model_bytes`` under ``config``, and its reporter."""
    history = History(config.history_path)
    evaluator = Evaluator(model_bytes, config.eval_data) if config.eval_data else None
    reporter: RoundReporter | None = None
    engine = Engine(config, model_bytes, on_published=lambda *args: reporter(*args) if reporter else None)
    engine.history = history
    reporter = RoundReporter(engine, history, evaluator)
    engine.open(lambda: initial_weights(model_bytes))
    reporter.evaluate_initial()
    return engine, reporter
