"""Robust aggregation: resistance to adversarial updates, norm bounding, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.robust import (
    clip_factor,
    clip_to_norm,
    coordinate_median,
    l2_norm,
    trimmed_mean,
    weighted_mean,
)

TARGET = {"kernel": np.linspace(-1, 1, 12).reshape(3, 4), "bias": np.array([0.5, -0.25])}


def honest_and_adversarial(n_honest: int, n_bad: int, bad_weight: float = 50.0):
    rng = np.random.default_rng(42)
    def noisy_target():
        return {k: v + 0.01 * rng.standard_normal(v.shape) for k, v in TARGET.items()}

    honest = [(noisy_target(), 50.0) for _ in range(n_honest)]
    bad = [({k: np.full(v.shape, 1e6) for k, v in TARGET.items()}, bad_weight) for _ in range(n_bad)]
    return honest + bad


def max_error(result) -> float:
    return max(float(np.max(np.abs(result[k] - TARGET[k]))) for k in TARGET)


def test_trimmed_mean_and_median_resist_a_fifth_of_huge_updates_where_the_mean_does_not() -> None:
    updates = honest_and_adversarial(n_honest=8, n_bad=2)
    assert max_error(weighted_mean(updates)) > 1e5
    assert max_error(trimmed_mean(updates, trim_fraction=0.2)) < 0.05
    assert max_error(coordinate_median(updates)) < 0.05


def test_claiming_many_examples_does_not_escape_trimming_or_move_the_median() -> None:
    updates = honest_and_adversarial(n_honest=8, n_bad=2, bad_weight=1e12)
    assert max_error(trimmed_mean(updates, trim_fraction=0.2)) < 0.05
    assert max_error(coordinate_median(updates)) < 0.05


def test_trimming_too_little_lets_the_attack_through() -> None:
    updates = honest_and_adversarial(n_honest=8, n_bad=2)
    assert max_error(trimmed_mean(updates, trim_fraction=0.1)) > 1e4  # k = 1 < 2 attackers


def test_trimmed_mean_without_trimming_is_the_weighted_mean() -> None:
    updates = honest_and_adversarial(n_honest=5, n_bad=0)
    updates = [(u, float(i + 1)) for i, (u, _) in enumerate(updates)]
    expected = weighted_mean(updates)
    for name, value in trimmed_mean(updates, trim_fraction=0.0).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-12)


def test_trimmed_mean_weights_the_survivors() -> None:
    updates = [({"w": np.array([v])}, w) for v, w in [(0.0, 1.0), (1.0, 1.0), (2.0, 3.0), (100.0, 1.0)]]
    # k = 1 drops 0.0 and 100.0; survivors 1.0 (weight 1) and 2.0 (weight 3) -> 7/4.
    assert trimmed_mean(updates, trim_fraction=0.25)["w"][0] == pytest.approx(1.75)


def test_median_of_even_count_is_the_midpoint() -> None:
    updates = [({"w": np.array([v, -v])}, 1.0) for v in (4.0, 1.0, 3.0, 2.0)]
    np.testing.assert_array_equal(coordinate_median(updates)["w"], [2.5, -2.5])


def test_weighted_mean_is_example_weighted() -> None:
    updates = [({"w": np.array([1.0])}, 1.0), ({"w": np.array([4.0])}, 2.0)]
    assert weighted_mean(updates)["w"][0] == pytest.approx(3.0)


@pytest.mark.parametrize("aggregate", [weighted_mean, coordinate_median, lambda u: trimmed_mean(u, 0.1)])
def test_bad_input_is_named(aggregate) -> None:
    good = ({"w": np.zeros(2)}, 1.0)
    with pytest.raises(ValueError, match="zero updates"):
        aggregate([])
    with pytest.raises(ValueError, match="update 1 is missing tensor 'w'"):
        aggregate([good, ({"v": np.zeros(2)}, 1.0)])
    with pytest.raises(ValueError, match=r"tensor 'w' in update 1 has shape \(3,\)"):
        aggregate([good, ({"w": np.zeros(3)}, 1.0)])
    with pytest.raises(ValueError, match="tensor 'w' in update 1 holds NaN"):
        aggregate([good, ({"w": np.array([0.0, np.inf])}, 1.0)])
    with pytest.raises(ValueError, match="update 1 has weight 0.0"):
        aggregate([good, ({"w": np.zeros(2)}, 0.0)])


def test_trim_fraction_must_leave_something() -> None:
    with pytest.raises(ValueError, match="trim_fraction"):
        trimmed_mean([({"w": np.zeros(1)}, 1.0)], trim_fraction=0.5)


def test_l2_norm_spans_all_tensors() -> None:
    assert l2_norm({"a": np.array([3.0]), "b": np.array([[4.0]], np.float32)}) == pytest.approx(5.0)


@given(
    norm=st.floats(min_value=0.0, max_value=1e30, allow_nan=False),
    bound=st.floats(min_value=1e-30, max_value=1e30, allow_nan=False),
)
def test_clip_factor_bounds_the_norm_and_never_amplifies(norm: float, bound: float) -> None:
    factor = clip_factor(norm, bound)
    assert 0.0 < factor <= 1.0
    assert norm * factor <= bound * (1 + 1e-12)
    assert (factor == 1.0) == (norm <= bound)


@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=20),
    bound=st.floats(min_value=1e-3, max_value=1e3),
)
def test_clip_to_norm_keeps_direction_and_bounds_norm(values: list[float], bound: float) -> None:
    update = {"w": np.array(values)}
    clipped, factor = clip_to_norm(update, bound)
    assert l2_norm(clipped) <= bound * (1 + 1e-9)
    np.testing.assert_allclose(clipped["w"], factor * update["w"], rtol=1e-12)


@pytest.mark.parametrize(
    ("norm", "bound"), [(math.nan, 1.0), (math.inf, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, math.inf)]
)
def test_clip_factor_rejects_meaningless_input(norm: float, bound: float) -> None:
    with pytest.raises(ValueError):
        clip_factor(norm, bound)
