"""The round coordinator as a pure state machine: selection, quorum, deadline, staleness."""

from __future__ import annotations

import pytest

from server.coordinator import (
    TRANSITIONS,
    Admit,
    Coordinator,
    Refuse,
    Resume,
    RoundPolicy,
    Select,
    TaskRef,
    Wait,
)


def make(mode: str = "sync", **policy) -> Coordinator:
    defaults = {"target": 4, "min_quorum": 2, "deadline_s": 100.0}
    return Coordinator(RoundPolicy(mode=mode, **{**defaults, **policy}), round_number=1, version=0, now=0.0)


def select(coord: Coordinator, device: str, now: float = 1.0) -> TaskRef:
    decision = coord.checkin(device, True, now)
    assert isinstance(decision, Select), decision
    task = TaskRef(f"t-{device}", device, decision.round, decision.base_version, decision.deadline)
    coord.assigned(task)
    return task


def deliver(coord: Coordinator, task: TaskRef, now: float = 2.0) -> Admit | Refuse:
    verdict = coord.admit(task, now)
    if isinstance(verdict, Admit):
        coord.accept(task)
    return verdict


def test_over_selects_then_tells_devices_to_wait() -> None:
    coord = make()  # target 4 → selects ceil(5.2) = 6
    tasks = [select(coord, f"d{i}") for i in range(6)]
    assert coord.checkin("d6", True, 1.0) == Wait("round_full", 10, 60)
    assert coord.checkin("d0", True, 1.0) == Resume(tasks[0].task_id)
    assert coord.checkin("x", False, 1.0).reason == "not_eligible"


def test_round_closes_at_target_and_refuses_stragglers() -> None:
    coord = make()
    tasks = [select(coord, f"d{i}") for i in range(6)]
    for task in tasks[:4]:
        assert isinstance(deliver(coord, task), Admit)
    assert deliver(coord, tasks[4]) == Refuse("round_closed")
    assert coord.tick(3.0) == "aggregate"
    assert coord.round.state == "aggregating"
    assert coord.checkin("d9", True, 3.0).reason == "no_round"
    coord.published(1, now=4.0)
    assert (coord.round.number, coord.version, coord.round.state) == (2, 1, "open")
    assert deliver(coord, tasks[5], now=5.0) == Refuse("round_closed")
    assert select(coord, "d0", now=5.0).base_version == 1


def test_deadline_with_and_without_quorum() -> None:
    coord = make()
    tasks = [select(coord, f"d{i}") for i in range(3)]
    deliver(coord, tasks[0])
    assert coord.tick(50.0) is None
    assert coord.tick(100.0) == "abandon"
    coord.abandoned(101.0)
    assert (coord.round.number, coord.version) == (2, 0)
    tasks = [select(coord, f"d{i}", now=102.0) for i in range(3)]
    for task in tasks[:2]:
        deliver(coord, task, now=103.0)
    assert coord.tick(201.0) == "aggregate"


def test_deadline_waits_for_reserved_updates_and_refuses_late_ones() -> None:
    coord = make()
    a, b, c = (select(coord, d) for d in "abc")
    deliver(coord, a)
    assert isinstance(coord.admit(b, 99.0), Admit)  # stored in flight across the deadline
    assert coord.tick(100.5) is None
    coord.accept(b)
    assert coord.admit(c, 100.5) == Refuse("round_closed")
    assert coord.tick(100.5) == "aggregate"


def test_a_device_contributes_once_per_sync_round() -> None:
    coord = make()
    deliver(coord, select(coord, "a"))
    assert coord.checkin("a", True, 3.0).reason == "already_participated"


def test_async_mode_buffers_k_updates_and_weights_staleness() -> None:
    coord = make("async", target=2, min_quorum=1, max_staleness=1)
    old = select(coord, "a")
    fresh = [select(coord, d) for d in "bc"]
    for task in fresh:
        assert deliver(coord, task) == Admit(1, 1.0)
    assert coord.admit(old, 2.0) == Refuse("full")
    assert coord.tick(2.0) == "aggregate"
    coord.published(1, now=3.0)
    verdict = deliver(coord, old, now=3.0)  # outstanding tasks survive a buffer flush in async mode
    assert verdict == Admit(2, pytest.approx(2 ** -0.5))
    stale = select(coord, "d", now=4.0)
    deliver(coord, select(coord, "e", now=4.0), now=4.0)
    coord.tick(4.0)
    coord.published(2, now=4.0)
    deliver(coord, select(coord, "f", now=4.0), now=4.0)
    deliver(coord, select(coord, "g", now=4.0), now=4.0)
    coord.tick(4.0)
    coord.published(3, now=4.0)
    assert coord.admit(stale, 5.0) == Refuse("stale_base")


def test_tasks_expire_and_max_rounds_finishes_training() -> None:
    coord = make(max_rounds=1, deadline_s=10.0, target=3)
    task = select(coord, "a")
    assert coord.admit(task, task.deadline + 1) == Refuse("round_closed")
    for device in "abc":
        deliver(coord, select(coord, device, now=2.0) if device != "a" else task, now=3.0)
    assert coord.tick(4.0) == "aggregate"
    coord.published(1, 5.0)
    assert coord.checkin("z", True, 6.0).reason == "training_complete"


def test_each_task_frees_its_place_when_its_own_deadline_passes() -> None:
    coord = make("async", target=2, min_quorum=1, deadline_s=10.0)  # 3 places
    a, b = select(coord, "a", now=1.0), select(coord, "b", now=5.0)  # deadlines 11 and 15
    select(coord, "c", now=6.0)
    assert coord.checkin("d", True, 7.0).reason == "round_full"
    deliver(coord, a, now=8.0)  # the task with the earliest deadline leaves before expiring
    select(coord, "d", now=9.0)
    assert coord.checkin("e", True, 12.0).reason == "round_full"  # nothing has expired at 12
    assert coord.checkin("b", True, 14.9) == Resume(b.task_id)
    renewed = select(coord, "b", now=15.0)  # b's task expired at 15: b gets a new one
    assert renewed.deadline == 25.0
    assert coord.checkin("e", True, 15.5).reason == "round_full"  # c, d and b's new task
    assert isinstance(coord.checkin("e", True, 16.0), Select)  # c's deadline


def test_transition_table_is_closed() -> None:
    coord = make()
    coord.round.state = "published"
    with pytest.raises(RuntimeError, match="no transition"):
        coord.published(2, 1.0)
    assert set(TRANSITIONS.values()) <= {"aggregating", "abandoned", "published"}
