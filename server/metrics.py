"""A tiny Prometheus registry: counters and gauges with labels, rendered as text format 0.0.4."""

from __future__ import annotations

import threading
from collections import defaultdict

_HELP = {
    "fedlite_requests_total": ("counter", "HTTP requests by route and status"),
    "fedlite_updates_accepted_total": ("counter", "updates stored and counted"),
    "fedlite_updates_duplicate_total": ("counter", "identical update retries answered as duplicates"),
    "fedlite_updates_rejected_total": ("counter", "updates refused, by reason"),
    "fedlite_update_bytes_total": ("counter", "bytes of accepted update bodies"),
    "fedlite_rounds_total": ("counter", "finished rounds by outcome"),
    "fedlite_checkins_total": ("counter", "check-ins by answer (train or a wait reason)"),
    "fedlite_enrollments_total": ("counter", "devices enrolled"),
    "fedlite_commit_batches_total": ("counter", "group-commit transactions"),
    "fedlite_current_round": ("gauge", "number of the round being filled"),
    "fedlite_current_version": ("gauge", "newest published weights version"),
    "fedlite_round_accepted": ("gauge", "updates accepted in the current round"),
    "fedlite_eval_accuracy": ("gauge", "held-out accuracy of the newest evaluated version"),
    "fedlite_eval_loss": ("gauge", "held-out loss of the newest evaluated version"),
    "fedlite_privacy_epsilon": ("gauge", "differential-privacy epsilon spent so far"),
}


class Metrics:
    """Label-keyed counters and gauges (thread-safe); names must be declared in ``_HELP``."""

    def __init__(self) -> None:
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._lock = threading.Lock()

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values[self._declared(name)]
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        with self._lock:
            self._values[self._declared(name)][tuple(sorted(labels.items()))] = float(value)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one series (0 if never touched)."""
        return self._values[name].get(tuple(sorted(labels.items())), 0.0)

    @staticmethod
    def _declared(name: str) -> str:
        if name not in _HELP:
            raise KeyError(f"undeclared metric {name!r}")
        return name

    def render(self) -> str:
        """The Prometheus text exposition of every series."""
        with self._lock:
            snapshot = {name: dict(series) for name, series in self._values.items()}
        lines = []
        for name, (kind, help_) in _HELP.items():
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
            for labels, value in sorted(snapshot.get(name, {}).items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    escaped = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels)
    return "{" + ",".join(escaped) + "}"
