"""FedOpt presets against a scalar reference of Reddi et al. (2021) Algorithm 2, state, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from server.robust import weighted_mean
from server.strategies import PRESETS, FedOpt, make_strategy

SHAPES = {"dense/kernel": (3, 4), "dense/bias": (4,), "scale": ()}
ZEROS = {name: np.zeros(shape) for name, shape in SHAPES.items()}


def random_tensors(rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {name: (scale * rng.standard_normal(shape)).astype(np.float32) for name, shape in SHAPES.items()}


def reference_fedopt(x, deltas, lr, beta_1, beta_2, tau, adaptivity):
    """The paper's update written coordinate by coordinate, in plain Python floats."""
    x, m, v = list(x), [0.0] * len(x), [tau * tau] * len(x)
    for delta in deltas:
        for i, d in enumerate(delta):
            m[i] = beta_1 * m[i] + (1 - beta_1) * d
            if adaptivity is None:
                x[i] += lr * m[i]
                continue
            if adaptivity == "adagrad":
                v[i] = v[i] + d * d
            elif adaptivity == "yogi":
                v[i] = v[i] - (1 - beta_2) * d * d * math.copysign(1.0, v[i] - d * d) * (v[i] != d * d)
            else:
                v[i] = beta_2 * v[i] + (1 - beta_2) * d * d
            x[i] += lr * m[i] / (math.sqrt(v[i]) + tau)
    return x


def run_strategy(strategy, start, deltas):
    weights = start
    for delta in deltas:
        weights = strategy.apply(weights, delta)
    return weights


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_match_the_coordinate_wise_reference(preset: str) -> None:
    rng = np.random.default_rng(7)
    start = random_tensors(rng)
    deltas = [random_tensors(rng, scale=0.1) for _ in range(5)]
    strategy = make_strategy(preset)
    result = run_strategy(strategy, start, deltas)
    for name in SHAPES:
        expected = reference_fedopt(
            start[name].astype(np.float64).ravel(),
            [d[name].astype(np.float64).ravel() for d in deltas],
            strategy.server_lr, strategy.momentum, strategy.beta_2, strategy.tau, strategy.adaptivity,
        )
        np.testing.assert_allclose(result[name].ravel(), expected, rtol=1e-6, atol=1e-6)
        assert result[name].dtype == np.float32 and result[name].shape == SHAPES[name]


def test_first_steps_by_hand() -> None:
    w, d = {"w": np.array([0.5], np.float32)}, {"w": np.array([2.0])}
    adagrad = make_strategy("fedadagrad")  # v = tau^2 + 4, x = 0.5 + 0.03 * 2 / (sqrt(v) + tau)
    assert adagrad.apply(w, d)["w"][0] == pytest.approx(0.5 + 0.06 / (math.sqrt(1e-6 + 4) + 1e-3), rel=1e-6)
    adam = make_strategy("fedadam")  # m = 0.5 * 2 = 1, v = 0.99e-6 + 0.04, x = 0.5 + 0.01 * 1 / (sqrt(v) + tau)
    expected = 0.5 + 0.01 / (math.sqrt(0.99e-6 + 0.04) + 1e-3)
    assert adam.apply(w, d)["w"][0] == pytest.approx(expected, rel=1e-6)
    yogi = make_strategy("fedyogi")  # v = tau^2 + 0.01 * 4 because sign(tau^2 - 4) = -1
    assert yogi.apply(w, d)["w"][0] == pytest.approx(0.5 + 0.01 / (math.sqrt(1e-6 + 0.04) + 1e-3), rel=1e-6)


def test_fedavgm_is_heavy_ball_momentum_at_server_lr_1() -> None:
    rng = np.random.default_rng(3)
    start = random_tensors(rng)
    deltas = [random_tensors(rng, scale=0.1) for _ in range(6)]
    result = run_strategy(make_strategy("fedavgm"), start, deltas)
    x, buffer = start["dense/kernel"].astype(np.float64), 0.0
    for delta in deltas:
        buffer = 0.5 * buffer + delta["dense/kernel"]
        x = x + buffer
    np.testing.assert_allclose(result["dense/kernel"], x, rtol=1e-6, atol=1e-6)
    first = make_strategy("fedavgm").apply(start, deltas[0])  # the first round is exactly FedAvg's
    np.testing.assert_allclose(first["scale"], start["scale"] + deltas[0]["scale"], rtol=1e-6)


def test_fedavg_equals_example_weighted_average_of_full_weights() -> None:
    rng = np.random.default_rng(11)
    global_weights = random_tensors(rng)
    local = [random_tensors(rng) for _ in range(4)]
    examples = [10.0, 250.0, 3.0, 64.0]
    deltas = [
        ({n: w[n].astype(np.float64) - global_weights[n] for n in SHAPES}, k) for w, k in zip(local, examples)
    ]
    result = make_strategy("fedavg").apply(global_weights, weighted_mean(deltas))
    for name in SHAPES:
        expected = sum(k * w[name].astype(np.float64) for w, k in zip(local, examples)) / sum(examples)
        np.testing.assert_allclose(result[name], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("preset", ["fedavgm", "fedadam", "fedyogi", "fedadagrad"])
def test_state_dict_round_trip_continues_exactly(preset: str) -> None:
    rng = np.random.default_rng(5)
    start = random_tensors(rng)
    deltas = [random_tensors(rng, scale=0.1) for _ in range(6)]
    uninterrupted = run_strategy(make_strategy(preset), start, deltas)
    first = make_strategy(preset)
    halfway = run_strategy(first, start, deltas[:3])
    resumed = make_strategy(preset)
    resumed.load_state_dict(first.state_dict())
    assert resumed.rounds == 3
    continued = run_strategy(resumed, halfway, deltas[3:])
    for name in SHAPES:
        np.testing.assert_array_equal(continued[name], uninterrupted[name])


def test_state_dict_keys_are_named_by_tensor() -> None:
    strategy = make_strategy("fedadam")
    strategy.apply({"a/b": np.zeros(2, np.float32)}, {"a/b": np.ones(2)})
    assert set(strategy.state_dict()) == {"rounds", "momentum/a/b", "second_moment/a/b"}


def test_state_from_another_configuration_is_refused() -> None:
    adam = make_strategy("fedadam")
    adam.apply({"w": np.zeros(2, np.float32)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match="does not fit"):
        make_strategy("fedavg").load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="unknown optimiser state key 'velocity/w'"):
        make_strategy("fedadam").load_state_dict({"rounds": 1, "velocity/w": np.ones(2)})


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        ({"dense/kernel": np.zeros((3, 4))}, "missing tensor 'dense/bias'"),
        ({**ZEROS, "extra": np.zeros(1)}, "unexpected tensor 'extra'"),
        ({**ZEROS, "dense/bias": np.zeros(5)}, r"'dense/bias'.*\(5,\).*\(4,\)"),
        ({**ZEROS, "scale": np.array(np.nan)}, "'scale'.*NaN"),
    ],
)
def test_bad_deltas_name_the_tensor_and_change_nothing(delta, message) -> None:
    rng = np.random.default_rng(0)
    strategy = make_strategy("fedadam")
    weights = strategy.apply(random_tensors(rng), random_tensors(rng, 0.1))
    before = strategy.state_dict()
    with pytest.raises(ValueError, match=message):
        strategy.apply(weights, delta)
    after = strategy.state_dict()
    assert after.keys() == before.keys() and after["rounds"] == 1
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_restored_state_must_fit_the_model() -> None:
    strategy = make_strategy("fedavgm")
    strategy.apply({"w": np.zeros(2, np.float32)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match=r"momentum state for tensor 'w' has shape \(2,\)"):
        strategy.apply({"w": np.zeros(3, np.float32)}, {"w": np.ones(3)})


def test_make_strategy_overrides_and_rejects_unknowns() -> None:
    strategy = make_strategy("fedyogi", server_lr=0.5, tau=1e-2)
    assert strategy.describe() == {
        "name": "fedyogi", "server_lr": 0.5, "momentum": 0.5, "adaptivity": "yogi",
        "beta_2": 0.99, "tau": 1e-2,
    }
    with pytest.raises(ValueError, match="unknown strategy 'fedsgd'"):
        make_strategy("fedsgd")
    with pytest.raises(ValueError, match="unknown strategy parameter 'beta_1'"):
        make_strategy("fedadam", beta_1=0.5)
    with pytest.raises(ValueError, match="momentum must be in"):
        FedOpt(momentum=1.0)
    with pytest.raises(ValueError, match="adaptivity must be one of"):
        FedOpt(adaptivity="rmsprop")
