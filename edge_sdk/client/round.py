"""The device's round state machine: pure, no I/O, the current time passed in.

The driver (:mod:`edge_sdk.client.client`) asks :meth:`RoundMachine.next_action` what to do,
does it, and reports the outcome to :meth:`RoundMachine.on_event`, which returns the next
:class:`RoundState`. The state is small and JSON-serialisable; the driver journals it after
every transition, so a device that crashes resumes where it was::

    idle --checkin: train--> download --> train --> upload --> idle
      ^  \\--checkin: wait / not eligible: sleep--/     |
      |        any task phase: drop, too many failures, deadline passed --> abandon
      \\---------------------------------------------------------------------/

An encoded update is persisted before the machine enters ``upload``, so a resumed upload sends
the identical bytes (a server no-op if they had arrived): no round is ever counted twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal, Union

from edge_sdk.wire import protocol
from edge_sdk.wire.protocol import Task, TrainResponse, WaitResponse


class Phase(str, Enum):
    """Where the device is in a round."""

    IDLE = "idle"
    DOWNLOAD = "download"
    TRAIN = "train"
    UPLOAD = "upload"
    ABANDON = "abandon"


@dataclass(frozen=True)
class RoundState:
    """The journaled state: phase, the task being worked on, and when to act next."""

    phase: Phase = Phase.IDLE
    task: Task | None = None
    not_before: float = 0.0
    failures: int = 0
    update_sha256: str | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON object for the journal."""
        task = protocol.to_dict(self.task) if self.task else None
        return {"phase": self.phase.value, "task": task, "not_before": self.not_before,
                "failures": self.failures, "update_sha256": self.update_sha256, "note": self.note}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RoundState:
        """The state written by :meth:`to_json`; ValueError (or KeyError) if it is not one."""
        task = protocol.parse_message(Task, value["task"]) if value["task"] is not None else None
        state = cls(Phase(value["phase"]), task, float(value["not_before"]), int(value["failures"]),
                    value["update_sha256"], str(value["note"]))
        if (state.phase is Phase.IDLE) != (task is None):
            raise ValueError(f"phase {state.phase.value} with task {task and task.task_id}")
        return state


# ---------------------------------------------------------------- actions (machine → driver)


@dataclass(frozen=True)
class Sleep:
    until: float


@dataclass(frozen=True)
class CheckIn:
    pass


@dataclass(frozen=True)
class Download:
    task: Task


@dataclass(frozen=True)
class Train:
    task: Task


@dataclass(frozen=True)
class Upload:
    task: Task
    update_sha256: str


@dataclass(frozen=True)
class Abandon:
    task: Task
    reason: str


Action = Union[Sleep, CheckIn, Download, Train, Upload, Abandon]

# ---------------------------------------------------------------- events (driver → machine)


@dataclass(frozen=True)
class Started:
    """The driver is about to work on the task; journaled first, so crash loops are counted too."""


@dataclass(frozen=True)
class NotEligible:
    unmet: tuple[str, ...]


@dataclass(frozen=True)
class Downloaded:
    pass


@dataclass(frozen=True)
class Trained:
    update_sha256: str


@dataclass(frozen=True)
class Uploaded:
    status: str


@dataclass(frozen=True)
class Abandoned:
    reason: str


@dataclass(frozen=True)
class Failed:
    """The action failed: ``retry`` it after a backoff, or ``drop`` the task.

    Attempts at a task phase are counted by :class:`Started`; after ``max_attempts`` the task is
    abandoned. Failed check-ins are counted here and only lengthen the backoff.
    """

    outcome: Literal["retry", "drop"]
    message: str


Event = Union[TrainResponse, WaitResponse, Started, NotEligible, Downloaded, Trained, Uploaded, Abandoned, Failed]


@dataclass(frozen=True)
class RoundPolicy:
    """Timing of the machine: failure backoff, polling while ineligible, attempts per phase."""

    max_attempts: int = 5
    backoff_base_s: float = 10.0
    backoff_max_s: float = 900.0
    ineligible_poll_s: float = 300.0
    after_round_s: float = 30.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure: capped, jittered."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** max(failures - 1, 0))
        return rng.uniform(ceiling / 2, ceiling)


class RoundMachine:
    """Decides the next action from a :class:`RoundState` and folds events into new states."""

    def __init__(self, policy: RoundPolicy = RoundPolicy(), rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng or random.Random()

    def next_action(self, state: RoundState, now: float) -> Action:
        """What the driver should do at time ``now``."""
        task = state.task
        if task is None:
            return Sleep(state.not_before) if now < state.not_before else CheckIn()
        if state.phase is Phase.ABANDON:
            return Abandon(task, state.note)
        if now >= task.deadline:
            return Abandon(task, f"round {task.round} deadline passed")
        if state.failures >= self.policy.max_attempts:
            return Abandon(task, f"gave up after {state.failures} attempts: {state.note}")
        if now < state.not_before:
            return Sleep(min(state.not_before, task.deadline))
        if state.phase is Phase.DOWNLOAD:
            return Download(task)
        if state.phase is Phase.TRAIN:
            return Train(task)
        return Upload(task, state.update_sha256 or "")

    def resumed(self, state: RoundState, now: float) -> RoundState:
        """``state`` as read back from the journal at ``now``: the clock may have jumped since (a
        board without a real-time clock), so no sleep is longer than the longest backoff."""
        return replace(state, not_before=min(state.not_before, now + self.policy.backoff_max_s))

    def on_event(self, state: RoundState, event: Event, now: float) -> RoundState:
        """The state after ``event`` happened at time ``now``."""
        if isinstance(event, TrainResponse):
            return RoundState(Phase.DOWNLOAD, event.task, note=f"selected for round {event.task.round}")
        if isinstance(event, WaitResponse):
            delay = self.rng.uniform(event.retry_after_min, event.retry_after_max)
            return RoundState(not_before=now + delay, note=f"server: wait ({event.reason})")
        if isinstance(event, NotEligible):
            delay = self.policy.ineligible_poll_s * self.rng.uniform(0.5, 1.5)
            return RoundState(not_before=now + delay, note=f"not eligible: {', '.join(event.unmet)}")
        if isinstance(event, Failed):
            return self._failed(state, event, now)
        return self._advanced(state, event, now)

    def _advanced(self, state: RoundState, event: Event, now: float) -> RoundState:
        if isinstance(event, Started):
            return replace(state, failures=state.failures + 1)
        if isinstance(event, Downloaded):
            return replace(state, phase=Phase.TRAIN, not_before=0.0, failures=0, note="model and weights ready")
        if isinstance(event, Trained):
            return replace(state, phase=Phase.UPLOAD, not_before=0.0, failures=0,
                           update_sha256=event.update_sha256, note="update encoded")
        if isinstance(event, Uploaded):
            return RoundState(not_before=now + self.policy.after_round_s, note=f"update {event.status}")
        if isinstance(event, Abandoned):
            delay = max(self.policy.after_round_s, self.policy.backoff(1, self.rng))
            return RoundState(not_before=now + delay, note=f"abandoned: {event.reason}")
        raise TypeError(f"unknown event {event!r}")

    def _failed(self, state: RoundState, event: Failed, now: float) -> RoundState:
        if state.task is None:  # a check-in failed: back off, however often
            failures = state.failures + 1
            return replace(state, not_before=now + self.policy.backoff(failures, self.rng), failures=failures,
                           note=event.message)
        if event.outcome == "drop":
            return replace(state, phase=Phase.ABANDON, note=event.message)
        return replace(state, not_before=now + self.policy.backoff(state.failures, self.rng), note=event.message)
