"""The pure round state machine: actions for a state and time, transitions for events."""

from __future__ import annotations

import json
import random

import pytest

from edge_sdk.client.round import (
    Abandon,
    Abandoned,
    CheckIn,
    Download,
    Downloaded,
    Failed,
    NotEligible,
    Phase,
    RoundMachine,
    RoundPolicy,
    RoundState,
    Sleep,
    Started,
    Train,
    Trained,
    Upload,
    Uploaded,
)
from edge_sdk.wire import protocol
from edge_sdk.wire.protocol import TrainResponse, WaitResponse

NOW = 1_760_000_000.0
TASK = protocol.parse_message(protocol.Task, {
    "task_id": "tsk_1", "round": 7, "base_version": 6,
    "model": {"sha256": "a" * 64, "size": 10, "url": "/v1/models/" + "a" * 64},
    "weights": {"version": 6, "sha256": "b" * 64, "size": 5, "url": "/v1/weights/6?encoding=fp32", "encoding": "fp32"},
    "codec": {"preset": "int8", "seed": 1, "rotation_seed": 2}, "train": {"epochs": 1, "batch_size": 32, "learning_rate": None},
    "deadline": int(NOW) + 600, "upload": {"url": "/v1/tasks/tsk_1/update", "max_bytes": 27000},
})
POLICY = RoundPolicy(max_attempts=3, backoff_base_s=10.0, backoff_max_s=100.0, ineligible_poll_s=60.0, after_round_s=30.0)


@pytest.fixture
def machine() -> RoundMachine:
    return RoundMachine(POLICY, random.Random(1))


def _run(machine: RoundMachine, state: RoundState, *events, now: float = NOW) -> RoundState:
    for event in events:
        state = machine.on_event(state, event, now)
    return state


def test_a_full_round(machine: RoundMachine) -> None:
    state = RoundState()
    assert machine.next_action(state, NOW) == CheckIn()
    state = _run(machine, state, TrainResponse(TASK))
    assert machine.next_action(state, NOW) == Download(TASK)
    state = _run(machine, state, Downloaded())
    assert machine.next_action(state, NOW) == Train(TASK)
    state = _run(machine, state, Trained("c" * 64))
    assert machine.next_action(state, NOW) == Upload(TASK, "c" * 64)
    state = _run(machine, state, Uploaded("accepted"))
    assert (state.phase, state.task, state.note) == (Phase.IDLE, None, "update accepted")
    assert machine.next_action(state, NOW) == Sleep(NOW + POLICY.after_round_s)


def test_wait_answers_spread_devices_over_the_window(machine: RoundMachine) -> None:
    wakes = {_run(machine, RoundState(), WaitResponse(30, 90, "round_full")).not_before - NOW for _ in range(50)}
    assert all(30 <= wake <= 90 for wake in wakes) and max(wakes) - min(wakes) > 30


def test_not_eligible_polls_later(machine: RoundMachine) -> None:
    state = _run(machine, RoundState(), NotEligible(("charging",)))
    assert 30 <= state.not_before - NOW <= 90 and state.note == "not eligible: charging"
    assert machine.next_action(state, state.not_before) == CheckIn()


def test_failed_checkins_back_off_exponentially_up_to_the_cap(machine: RoundMachine) -> None:
    state, waits = RoundState(), []
    for _ in range(6):
        state = _run(machine, state, Failed("retry", "server down"))
        waits.append(state.not_before - NOW)
    assert state.phase is Phase.IDLE and state.failures == 6
    ceilings = [min(100.0, 10.0 * 2**n) for n in range(6)]
    assert all(ceiling / 2 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings))


def test_a_task_phase_gives_up_after_max_attempts(machine: RoundMachine) -> None:
    attempt = (Started(), Failed("retry", "reset"))
    state = _run(machine, RoundState(), TrainResponse(TASK), *attempt, *attempt)
    assert state.phase is Phase.DOWNLOAD and isinstance(machine.next_action(state, NOW), Sleep)
    assert machine.next_action(state, state.not_before) == Download(TASK)
    state = _run(machine, state, *attempt)
    assert machine.next_action(state, NOW) == Abandon(TASK, "gave up after 3 attempts: reset")
    state = _run(machine, state, Abandoned("gave up after 3 attempts: reset"))
    assert state.phase is Phase.IDLE and state.task is None and state.note.startswith("abandoned: gave up")


def test_a_crash_loop_is_bounded_by_journaled_starts(machine: RoundMachine) -> None:
    state = _run(machine, RoundState(), TrainResponse(TASK), Started(), Downloaded())
    for _ in range(POLICY.max_attempts):  # each start is journaled, then the process dies
        assert machine.next_action(state, NOW) == Train(TASK)
        state = RoundState.from_json(_run(machine, state, Started()).to_json())
    assert isinstance(machine.next_action(state, NOW), Abandon)


def test_a_dropped_task_is_abandoned_at_once(machine: RoundMachine) -> None:
    state = _run(machine, RoundState(), TrainResponse(TASK), Failed("drop", "model sha256 mismatch"))
    assert machine.next_action(state, NOW) == Abandon(TASK, "model sha256 mismatch")


def test_the_deadline_abandons_and_bounds_sleeps(machine: RoundMachine) -> None:
    state = _run(machine, RoundState(), TrainResponse(TASK), Downloaded(), Trained("c" * 64))
    state = RoundState(state.phase, state.task, not_before=NOW + 10_000, update_sha256="c" * 64)
    assert machine.next_action(state, NOW) == Sleep(TASK.deadline)
    assert machine.next_action(state, TASK.deadline) == Abandon(TASK, "round 7 deadline passed")


def test_a_failed_drop_while_idle_only_backs_off(machine: RoundMachine) -> None:
    state = _run(machine, RoundState(), Failed("drop", "400 invalid_field"))
    assert state.phase is Phase.IDLE and state.not_before > NOW


@pytest.mark.parametrize("events", [(), (TrainResponse(TASK),), (TrainResponse(TASK), Downloaded(), Trained("d" * 64))])
def test_the_state_survives_the_journal(machine: RoundMachine, events: tuple) -> None:
    state = _run(machine, RoundState(), *events)
    assert RoundState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_a_resumed_state_never_sleeps_past_the_longest_backoff(machine: RoundMachine) -> None:
    far = RoundState(not_before=NOW + 10 * 365 * 86400)  # written while the clock was years ahead
    assert machine.resumed(far, NOW).not_before == NOW + POLICY.backoff_max_s
    near = RoundState(not_before=NOW + 5)
    assert machine.resumed(near, NOW) == near


def test_an_inconsistent_journal_is_refused() -> None:
    with pytest.raises(ValueError, match="phase upload"):
        RoundState.from_json({**RoundState().to_json(), "phase": "upload"})
