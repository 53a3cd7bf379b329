"""The round coordinator: a pure state machine over rounds that takes ``now`` as an argument.

Synchronous mode: a round opens on the current global version, selects up to ~130 % of its
target number of devices, and closes when the target number of updates is in (or at its
deadline with at least the minimum quorum); below quorum at the deadline it is abandoned.
Asynchronous (FedBuff) mode: tasks are handed out continuously (at most ~130 % of K
outstanding); every K accepted updates form a buffer that is aggregated into a new version;
an update whose base is more than ``max_staleness`` versions old is refused.

The coordinator never does I/O. The driver (``server.engine``) calls it and acts on the result:
it persists tasks and updates, aggregates, publishes, and reports back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Round life cycle: (state, event) → next state. Anything else is a bug in the driver.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("open", "target_reached"): "aggregating",
    ("open", "deadline_with_quorum"): "aggregating",
    ("open", "deadline_below_quorum"): "abandoned",
    ("aggregating", "published"): "published",
    ("aggregating", "aggregation_failed"): "abandoned",
}
FINAL_STATES = ("abandoned", "published")


@dataclass(frozen=True)
class RoundPolicy:
    """How rounds are run: see docs/server.md for each knob."""

    mode: str = "sync"
    target: int = 10
    over_selection: float = 1.3
    min_quorum: int = 1
    deadline_s: float = 600.0
    max_staleness: int = 10
    staleness_exponent: float = 0.5
    max_rounds: int = 0
    retry_min_s: int = 10
    retry_max_s: int = 60

    def __post_init__(self) -> None:
        if self.mode not in ("sync", "async"):
            raise ValueError(f"mode must be 'sync' or 'async', got {self.mode!r}")
        if not 1 <= self.min_quorum <= self.target:
            raise ValueError(f"need 1 <= min_quorum ({self.min_quorum}) <= target ({self.target})")
        if self.over_selection < 1.0 or self.deadline_s <= 0 or self.max_staleness < 0:
            raise ValueError("over_selection must be >= 1, deadline_s > 0, max_staleness >= 0")
        if not 0 <= self.retry_min_s <= self.retry_max_s:
            raise ValueError("need 0 <= retry_min_s <= retry_max_s")

    @property
    def selection_size(self) -> int:
        """How many devices a round (or the async pool) hands tasks to."""
        return math.ceil(self.target * self.over_selection)


@dataclass(frozen=True)
class TaskRef:
    """What the coordinator needs to know about a task."""

    task_id: str
    device_id: str
    round: int
    base_version: int
    deadline: float


@dataclass(frozen=True)
class Select:
    """Give the device a new task on ``base_version`` for ``round``, due at ``deadline``."""

    round: int
    base_version: int
    deadline: float


@dataclass(frozen=True)
class Resume:
    """The device already holds an open task: send it again."""

    task_id: str


@dataclass(frozen=True)
class Wait:
    """Not now: check in again after uniform(retry_min, retry_max) seconds."""

    reason: str
    retry_min: int
    retry_max: int


@dataclass(frozen=True)
class Admit:
    """The update may be stored; it joins buffer ``round`` with staleness factor ``factor``."""

    round: int
    factor: float


@dataclass(frozen=True)
class Refuse:
    """The update is too late (``round_closed``) or too stale (``stale_base``); or ``full``: retry later."""

    code: str


@dataclass
class Round:
    """The round (sync) or buffer (async) being filled."""

    number: int
    base_version: int
    opened_at: float
    deadline: float
    state: str = "open"
    accepted: int = 0
    reserved: int = 0
    participants: set[str] = field(default_factory=set)


class Coordinator:
    """Decides who trains and which updates count; see the module docstring."""

    def __init__(self, policy: RoundPolicy, *, round_number: int, version: int, now: float) -> None:
        self.policy = policy
        self.version = version
        self.finished = policy.max_rounds > 0 and round_number > policy.max_rounds
        self.round = self._new_round(round_number, now)
        self.outstanding: dict[str, TaskRef] = {}  # device id → open task
        self._next_expiry = math.inf  # no outstanding task has an earlier deadline

    def _new_round(self, number: int, now: float) -> Round:
        deadline = now + self.policy.deadline_s if self.policy.mode == "sync" else math.inf
        return Round(number, self.version, now, deadline)

    def _fire(self, event: str) -> None:
        key = (self.round.state, event)
        if key not in TRANSITIONS:
            raise RuntimeError(f"round {self.round.number}: no transition for {key}")
        self.round.state = TRANSITIONS[key]

    def _wait(self, reason: str) -> Wait:
        if reason == "no_round":
            return Wait(reason, 1, max(1, self.policy.retry_min_s))
        return Wait(reason, self.policy.retry_min_s, self.policy.retry_max_s)

    def restore_task(self, task: TaskRef, now: float) -> None:
        """Re-register an open task loaded from the ledger after a restart."""
        if task.deadline > now and self._task_is_current(task):
            self.assigned(task)

    def restore_accepted(self, task_id: str, device_id: str) -> None:
        """Re-count an update of the current round loaded from the ledger after a restart."""
        self.round.accepted += 1
        self.round.participants.add(device_id)
        task = self.outstanding.get(device_id)
        if task is not None and task.task_id == task_id:
            del self.outstanding[device_id]

    def _task_is_current(self, task: TaskRef) -> bool:
        return self.policy.mode == "async" or task.round == self.round.number

    # ------------------------------------------------------------------ check-in

    def checkin(self, device_id: str, eligible: bool, now: float) -> Select | Resume | Wait:
        """Decide what a checking-in device does now; a Select must be followed by :meth:`assigned`."""
        if self.finished:
            return self._wait("training_complete")
        self._expire(now)
        task = self.outstanding.get(device_id)
        if task is not None:
            return Resume(task.task_id)
        if not eligible:
            return self._wait("not_eligible")
        if self.round.state != "open" or now >= self.round.deadline:
            return self._wait("no_round")
        if self.policy.mode == "sync" and device_id in self.round.participants:
            return self._wait("already_participated")
        if len(self.outstanding) + self._taken() >= self.policy.selection_size:
            return self._wait("round_full")
        deadline = min(self.round.deadline, now + self.policy.deadline_s)
        return Select(self.round.number, self.version, deadline)

    def _taken(self) -> int:
        return self.round.accepted if self.policy.mode == "sync" else 0

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:  # a check-in costs O(1) until some task can have expired
            return
        expired = [device for device, task in self.outstanding.items() if task.deadline <= now]
        for device in expired:
            del self.outstanding[device]
        self._next_expiry = min((task.deadline for task in self.outstanding.values()), default=math.inf)

    def assigned(self, task: TaskRef) -> None:
        """Record the task the driver created after a :class:`Select`."""
        self.outstanding[task.device_id] = task
        self._next_expiry = min(self._next_expiry, task.deadline)

    def unassigned(self, task: TaskRef) -> None:
        """Forget a task the driver could not store."""
        if self.outstanding.get(task.device_id) == task:
            del self.outstanding[task.device_id]

    # ------------------------------------------------------------------ uploads

    def admit(self, task: TaskRef, now: float) -> Admit | Refuse:
        """Reserve a place for an (already validated) update of ``task``; follow with accept or release."""
        if now > task.deadline:
            return Refuse("round_closed")
        if self.policy.mode == "sync":
            return self._admit_sync(task, now)
        staleness = self.version - task.base_version
        if staleness > self.policy.max_staleness:
            return Refuse("stale_base")
        if self.round.state != "open" or self.round.accepted + self.round.reserved >= self.policy.target:
            return Refuse("full")
        self.round.reserved += 1
        return Admit(self.round.number, (1.0 + staleness) ** -self.policy.staleness_exponent)

    def _admit_sync(self, task: TaskRef, now: float) -> Admit | Refuse:
        current = self.round
        if task.round != current.number or current.state != "open" or now > current.deadline:
            return Refuse("round_closed")
        if current.accepted + current.reserved >= self.policy.target:
            return Refuse("round_closed")
        current.reserved += 1
        return Admit(current.number, 1.0)

    def release(self) -> None:
        """Give back a reservation whose update could not be stored."""
        self.round.reserved -= 1

    def accept(self, task: TaskRef) -> None:
        """The update reserved by :meth:`admit` is durable; count it."""
        self.round.reserved -= 1
        self.round.accepted += 1
        self.round.participants.add(task.device_id)
        if self.outstanding.get(task.device_id) == task:
            del self.outstanding[task.device_id]

    # ------------------------------------------------------------------ timing

    def tick(self, now: float) -> str | None:
        """``"aggregate"`` or ``"abandon"`` when the current round must end now, else None."""
        current = self.round
        if current.state != "open" or current.reserved:
            return None
        if current.accepted >= self.policy.target:
            self._fire("target_reached")
            return "aggregate"
        if now < current.deadline:
            return None
        if current.accepted >= self.policy.min_quorum:
            self._fire("deadline_with_quorum")
            return "aggregate"
        self._fire("deadline_below_quorum")
        return "abandon"

    def published(self, version: int, now: float) -> None:
        """The aggregated round is durable as ``version``: open the next round."""
        self._fire("published")
        self.version = version
        self._next_round(now)

    def aggregation_failed(self) -> None:
        """Aggregating the round failed (e.g. non-finite result): it ends as abandoned."""
        self._fire("aggregation_failed")

    def abandoned(self, now: float) -> None:
        """The abandoned round is recorded: open the next round on the same version."""
        if self.round.state != "abandoned":
            raise RuntimeError(f"round {self.round.number} is {self.round.state}, not abandoned")
        self._next_round(now)

    def _next_round(self, now: float) -> None:
        number = self.round.number + 1
        self.finished = self.policy.max_rounds > 0 and number > self.policy.max_rounds
        if self.policy.mode == "sync":
            self.outstanding.clear()
        self.round = self._new_round(number, now)
