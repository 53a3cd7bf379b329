"""DP-FedAvg clip-and-noise step and the RDP accountant against published reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from server.accountant import PrivacyAccountant, epsilon_from_rdp, rdp_sampled_gaussian
from server.privacy import DPConfig, GaussianMechanism
from server.robust import l2_norm

# Orders used by the reference implementations the numbers below come from.
OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
TF_PRIVACY_ORDERS = (
    [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5] + list(range(5, 64)) + [128, 256, 512]
)


def test_noise_std_matches_z_times_c() -> None:
    config = DPConfig(noise_multiplier=1.3, clip_norm=0.7)
    noise = GaussianMechanism(config, rng=np.random.default_rng(1)).noise({"a": (500, 400), "b": (100_000,)})
    samples = np.concatenate([noise["a"].ravel(), noise["b"]])  # 300k draws: std error of std ~0.13%
    assert noise["a"].shape == (500, 400) and noise["a"].dtype == np.float64
    assert abs(samples.std() / config.noise_std - 1.0) < 0.01
    assert abs(samples.mean()) < 5 * config.noise_std / math.sqrt(samples.size)


def test_default_generator_is_seeded_from_the_os() -> None:
    config = DPConfig(noise_multiplier=1.0, clip_norm=1.0)
    first = GaussianMechanism(config).noise({"w": (8,)})["w"]
    second = GaussianMechanism(config).noise({"w": (8,)})["w"]
    assert not np.array_equal(first, second)


def test_noisy_mean_divides_sum_plus_noise_by_the_expected_count() -> None:
    config = DPConfig(noise_multiplier=0.8, clip_norm=2.0)
    mechanism = GaussianMechanism(config, rng=np.random.default_rng(9))
    deltas = [{"w": np.full(3, 10.0)}, {"w": np.array([0.1, 0.2, 0.3])}]
    clipped = [mechanism.clip(d) for d in deltas]
    assert l2_norm(clipped[0]) == pytest.approx(2.0)
    np.testing.assert_array_equal(clipped[1]["w"], deltas[1]["w"])
    total = {"w": clipped[0]["w"] + clipped[1]["w"]}
    noise = np.random.default_rng(9).normal(0.0, 1.6, size=3)
    released = mechanism.noisy_mean(total, expected_participants=5)
    np.testing.assert_allclose(released["w"], (total["w"] + noise) / 5)


def test_clip_rejects_non_finite_updates() -> None:
    mechanism = GaussianMechanism(DPConfig(noise_multiplier=1.0, clip_norm=1.0))
    with pytest.raises(ValueError, match="tensor 'w' in update holds NaN"):
        mechanism.clip({"w": np.array([np.nan])})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_multiplier": -1, "clip_norm": 1},
        {"noise_multiplier": 1, "clip_norm": 0},
        {"noise_multiplier": 1, "clip_norm": 1, "target_delta": 1.0},
        {"noise_multiplier": 1, "clip_norm": 1, "max_epsilon": 0},
    ],
)
def test_config_rejects_meaningless_values(kwargs) -> None:
    with pytest.raises(ValueError):
        DPConfig(**kwargs)


def test_accountant_matches_opacus() -> None:
    # pytorch/opacus, opacus/tests/accountants_test.py::test_rdp_accountant:
    # sample_rate 0.04, noise_multiplier 1.5, int(90 / 0.04) steps, delta 1e-5 -> 7.32911117143.
    accountant = PrivacyAccountant(0.04, 1.5, target_delta=1e-5, orders=OPACUS_ORDERS)
    accountant.step(int(90 / 0.04))
    assert accountant.epsilon() == pytest.approx(7.32911117143, rel=1e-9)


@pytest.mark.parametrize(
    ("n", "batch", "sigma", "epochs", "delta", "expected_eps", "expected_order"),
    [
        (60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0),
        (100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0),
        (100000000, 1024, 0.1, 10, 1e-7, 5907982.3113978775, 1.25),
    ],
)
def test_epsilon_matches_tensorflow_privacy(
    n, batch, sigma, epochs, delta, expected_eps, expected_order
) -> None:
    # tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py::
    # test_compute_dp_sgd_privacy (Test0..Test2); that library uses these orders and
    # steps = ceil(epochs * n / batch).
    q, steps = batch / n, math.ceil(epochs * n / batch)
    rdp = steps * rdp_sampled_gaussian(q, sigma, TF_PRIVACY_ORDERS)
    eps, order = epsilon_from_rdp(TF_PRIVACY_ORDERS, rdp, delta)
    assert eps == pytest.approx(expected_eps, rel=1e-9)
    assert order == expected_order


def test_rdp_curve_matches_tensorflow_privacy() -> None:
    # tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
    # ::test_compute_rdp_sequence:
    # compute_rdp(q=0.01, noise_multiplier=2.5, steps=50, orders), asserted there to within 1e-5.
    orders = [1.5, 2.5, 5, 50, 100]
    expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307]
    np.testing.assert_allclose(50 * rdp_sampled_gaussian(0.01, 2.5, orders), expected, atol=1e-5, rtol=1e-5)
    # ... and test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) == 0.07737 to 5 places.
    assert 10 * rdp_sampled_gaussian(0.1, 2.0, [5])[0] == pytest.approx(0.07737, abs=1e-5)


def test_conversion_matches_tensorflow_privacy() -> None:
    # rdp_accountant_test.py::test_get_privacy_spent_check_target_delta: constant RDP 1.1 over orders 2..32
    # at delta 1e-5 gives eps 1.32783806176 at order 32; the unsampled Gaussian with sigma 4.530877117
    # over a fine grid of orders is exactly (1, 1e-6)-DP.
    assert epsilon_from_rdp(range(2, 33), [1.1] * 31, 1e-5) == pytest.approx((1.32783806176, 32))
    orders = [0.001 * i for i in range(1001, 100000)]
    eps, _ = epsilon_from_rdp(orders, rdp_sampled_gaussian(1.0, 4.530877117, orders), 1e-6)
    assert eps == pytest.approx(1.0, abs=1e-6)


def test_epsilon_grows_with_rounds_and_shrinks_with_noise() -> None:
    epsilons = []
    accountant = PrivacyAccountant(0.01, 1.1, target_delta=1e-5)
    for _ in range(5):
        accountant.step(2000)
        epsilons.append(accountant.epsilon())
    assert all(a < b for a, b in zip(epsilons, epsilons[1:]))
    by_noise = []
    for sigma in (0.8, 1.1, 1.5, 3.0):
        noisier = PrivacyAccountant(0.01, sigma, target_delta=1e-5)
        noisier.step(10_000)
        by_noise.append(noisier.epsilon())
    assert all(a > b for a, b in zip(by_noise, by_noise[1:]))
    assert by_noise[1] == pytest.approx(epsilons[-1], rel=1e-12)


def test_budget_stops_before_it_is_exceeded() -> None:
    config = DPConfig(noise_multiplier=1.0, clip_norm=1.0, target_delta=1e-5, max_epsilon=2.0)
    accountant = config.accountant(expected_participants=50, population=5000)
    rounds = 0
    while not accountant.would_exceed(config.max_epsilon):
        accountant.step()
        rounds += 1
    assert accountant.epsilon() <= 2.0 < accountant.epsilon(extra_steps=1)
    assert rounds == accountant.steps > 100


def test_accountant_state_survives_a_restart() -> None:
    accountant = PrivacyAccountant(0.02, 1.2, target_delta=1e-6)
    accountant.step(300)
    restored = PrivacyAccountant(0.02, 1.2, target_delta=1e-6)
    restored.load_state_dict(accountant.state_dict())
    accountant.step(5)
    restored.step(5)
    assert restored.steps == 305 and restored.epsilon() == accountant.epsilon()
    with pytest.raises(ValueError, match="different RDP orders"):
        PrivacyAccountant(0.02, 1.2, 1e-6, orders=[2, 3]).load_state_dict(accountant.state_dict())


def test_no_noise_means_no_privacy_and_no_sampling_means_none_spent() -> None:
    never_sampled = PrivacyAccountant(0.0, 1.0, target_delta=1e-5)
    never_sampled.step(1000)
    assert never_sampled.epsilon() == 0.0
    noiseless = PrivacyAccountant(0.1, 0.0, target_delta=1e-5)
    noiseless.step()
    assert noiseless.epsilon() == math.inf and noiseless.would_exceed(1e6)
