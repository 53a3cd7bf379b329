"""A fleet of virtual devices training against the real server app in this process.

Rounds follow the server's rules, not the simulator's: devices check in in random order and the
server selects, refuses, closes rounds, aggregates and evaluates. The simulator adds what a fleet
does to a server: **dropout** (a selected device never uploads; its task expires at the round's
deadline) and **stragglers** (a fraction of devices is ``slowdown`` times slower). Devices finish
in the order of their simulated training time (examples × epochs × speed): in sync mode the
server counts the first ``round size`` updates and refuses later ones (``409 round_closed``); in
async (FedBuff) mode slow updates arrive on older versions and are down-weighted or refused
(``409 stale_base``). A sync round left short of its target by dropouts ends at its deadline,
in real time.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_sdk.wire.manifest import read_manifest
from edge_sdk.wire.protocol import Task, TrainResponse
from fedlite.fleet import SharedTrainer, VirtualDevice, Weights
from fedlite.inprocess import InProcessServer
from fedlite.partition import dirichlet_partition, dirichlet_sample
from fedlite.runs import RoundRecord, fp32_update_bytes, initial_accuracy, summarise
from fedlite.settings import RunSettings

MIN_SHARE = 8  # below this many examples per device on average, devices sample instead of partitioning
SAMPLED_EXAMPLES = 32
Work = tuple[bytes, Weights]
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


@dataclass(frozen=True)
class FleetBehaviour:
    """How the simulated devices misbehave, and how their data is drawn."""

    dropout: float = 0.0
    stragglers: float = 0.0
    slowdown: float = 5.0
    examples_per_device: int | None = None  # None: partition the data set if it is large enough

    def __post_init__(self) -> None:
        if not (0 <= self.dropout < 1 and 0 <= self.stragglers <= 1 and self.slowdown >= 1):
            raise ValueError("need 0 <= --dropout < 1, 0 <= --stragglers <= 1 and --slowdown >= 1")
        if self.examples_per_device is not None and self.examples_per_device < 1:
            raise ValueError(f"--examples-per-device must be at least 1, got {self.examples_per_device}")


@dataclass
class SimulationResult:
    """Per-round records and what happened to the uploads."""

    settings: RunSettings
    rounds: list[RoundRecord]
    trainable_parameters: int
    fp32_update_bytes: int
    initial_accuracy: float | None = None
    uploads: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        """The headline numbers (``--json`` and the report): :func:`fedlite.runs.summarise`, the untrained
        model's accuracy and what happened to the uploads."""
        numbers = summarise(self.rounds, devices=self.settings.devices, trainable_parameters=self.trainable_parameters,
                            fp32_update_bytes=self.fp32_update_bytes, seconds=self.seconds)
        return {"initial_accuracy": self.initial_accuracy, **numbers, "uploads": dict(self.uploads)}


def sampled_examples(settings: RunSettings, behaviour: FleetBehaviour, available: int) -> int | None:
    """How many examples each device draws, or None when the devices partition the data set."""
    if behaviour.examples_per_device is None and settings.devices * MIN_SHARE > available:
        return SAMPLED_EXAMPLES
    return behaviour.examples_per_device


def device_shares(labels: np.ndarray, settings: RunSettings, behaviour: FleetBehaviour) -> list[np.ndarray]:
    """Each device's example indices: a Dirichlet partition, or per-device samples for large fleets."""
    per_device = sampled_examples(settings, behaviour, len(labels))
    if per_device is None:
        return dirichlet_partition(labels, settings.devices, settings.alpha, seed=settings.seed)
    return dirichlet_sample(labels, settings.devices, settings.alpha, per_device, seed=settings.seed)


class Simulation:
    """``Simulation(settings, behaviour, model, work_dir).run()``; see the module docstring."""

    def __init__(self, settings: RunSettings, behaviour: FleetBehaviour, model: Path, work_dir: Path, *,
                 data: Data,
                 on_progress: Callable[[int, int, int], None] = lambda *_: None,
                 on_round: Callable[[RoundRecord], None] = lambda _: None) -> None:
        self.settings, self.behaviour, self.model = settings, behaviour, Path(model)
        self.work_dir = Path(work_dir)
        self.x, self.y, self.x_test, self.y_test = data
        self.on_progress, self.on_round = on_progress, on_round
        self.rng = np.random.default_rng(settings.seed)
        self.trainer = SharedTrainer()
        self.uploads: Counter = Counter()
        self.records: list[RoundRecord] = []

    def run(self) -> SimulationResult:
        """Enrol the fleet, run every round, and return what happened."""
        started = time.monotonic()
        specs = read_manifest(self.model.read_bytes()).trainable_weights
        heldout = self.work_dir / "heldout.npz"
        np.savez(heldout, x=self.x_test, y=self.y_test)
        with InProcessServer(self.model, self.work_dir / "server", self.settings, heldout) as server:
            self.server = server
            self.devices = self._enrol_fleet()
            (self._run_sync if self.settings.mode == "sync" else self._run_async)()
            initial = initial_accuracy(server.history)
        return SimulationResult(self.settings, self.records, sum(spec.size for spec in specs), fp32_update_bytes(specs),
                                initial, self.uploads, time.monotonic() - started)

    def _enrol_fleet(self) -> list[VirtualDevice]:
        shares = device_shares(self.y, self.settings, self.behaviour)
        slow = self.rng.random(len(shares)) < self.behaviour.stragglers
        speeds = self.rng.lognormal(0.0, 0.25, len(shares)) * np.where(slow, self.behaviour.slowdown, 1.0)
        token = self.server.create_token(len(shares))
        devices = [VirtualDevice(i, share, self.server.transport, float(speed), self.settings.seed)
                   for i, (share, speed) in enumerate(zip(shares, speeds))]
        for device in devices:
            device.enrol(token, "simulated")
        return devices

    def _duration(self, device: VirtualDevice) -> float:
        """Simulated seconds from receiving a task to uploading it."""
        return 0.01 * len(device.examples) * self.settings.epochs * device.speed

    def _finish_round(self, number: int) -> None:
        record = self.server.record(number)
        self.records.append(record)
        self.on_round(record)

    # ------------------------------------------------------------------ synchronous rounds

    def _run_sync(self) -> None:
        for number in range(1, self.settings.rounds + 1):
            selected = self._select()
            survivors = [(d, t) for d, t in selected if self.rng.random() >= self.behaviour.dropout]
            self.uploads["dropped"] += len(selected) - len(survivors)
            survivors.sort(key=lambda pair: self._duration(pair[0]))
            self._upload_in_order(number, survivors)
            self.server.wait_for_round_end(number, timeout_s=self.settings.deadline_s + 30)
            self._finish_round(number)

    def _select(self) -> list[tuple[VirtualDevice, Task]]:
        """Devices check in in random order until the server says the round is full."""
        selected = []
        for index in self.rng.permutation(len(self.devices)):
            answer = self.devices[index].check_in(self.trainer)
            if isinstance(answer, TrainResponse):
                selected.append((self.devices[index], answer.task))
            elif answer.reason in ("round_full", "no_round", "training_complete"):
                break
        return selected

    def _upload_in_order(self, number: int, workers: list[tuple[VirtualDevice, Task]]) -> None:
        accepted = 0
        for position, (device, task) in enumerate(workers):
            status = device.upload(task, *device.make_update(self.trainer, task, self.x, self.y))
            self.uploads[status] += 1
            accepted += status == "accepted"
            self.on_progress(number, accepted, self.settings.target)
            if status == "round_closed":  # the rest finish later still: the server would refuse them too
                self.uploads["late"] += len(workers) - position - 1
                return

    # ------------------------------------------------------------------ asynchronous (buffered) rounds

    def _run_async(self) -> None:
        in_flight: list[tuple[float, int, VirtualDevice, Task, Work]] = []
        busy: dict[int, float] = {}  # device index → real time until which it holds a task
        order = itertools.count()
        clock, finished = 0.0, 0
        stalled_since = time.monotonic()
        while finished < self.settings.rounds:
            self._hand_out(clock, in_flight, busy, order)
            if not in_flight:  # every free slot holds a dropped device's task: wait for one to expire
                if time.monotonic() - stalled_since > self.settings.deadline_s + 30:
                    raise TimeoutError("no device could get a task; is every device's task expired or dropped?")
                time.sleep(0.05)
                continue
            stalled_since = time.monotonic()
            clock, _, device, task, work = heapq.heappop(in_flight)
            busy.pop(device.index, None)
            status = device.upload(task, *work)
            self.uploads[status] += 1
            health = self.server.health()
            self.on_progress(health["round"], health["accepted"], self.settings.target)
            while finished < min(health["round"] - 1, self.settings.rounds):
                finished += 1
                self._finish_round(finished)

    def _hand_out(self, clock: float, in_flight: list, busy: dict[int, float], order: itertools.count) -> None:
        """Idle devices check in (random order) until the server's pool of outstanding tasks is full."""
        now = time.time()
        for index in self.rng.permutation(len(self.devices)):
            if busy.get(index, 0.0) > now:
                continue
            device = self.devices[index]
            answer = device.check_in(self.trainer)
            if not isinstance(answer, TrainResponse):
                return
            task = answer.task
            if self.rng.random() < self.behaviour.dropout:
                self.uploads["dropped"] += 1
                busy[index] = task.deadline + 1.0
                continue
            busy[index] = float("inf")
            work = device.make_update(self.trainer, task, self.x, self.y)
            heapq.heappush(in_flight, (clock + self._duration(device), next(order), device, task, work))
