"""The Dirichlet label-skew splits: properties that hold for any labels, fleet size and alpha."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedlite.partition import dirichlet_partition, dirichlet_sample

labels_strategy = st.lists(st.integers(0, 9), min_size=1, max_size=300).map(lambda xs: np.array(xs, np.int64))
alphas = st.floats(0.01, 100.0)


@settings(max_examples=60, deadline=None)
@given(labels=labels_strategy, devices=st.integers(1, 40), alpha=alphas, seed=st.integers(0, 2**32 - 1),
       minimum=st.integers(0, 5))
def test_partition_gives_every_example_to_exactly_one_device(labels, devices, alpha, seed, minimum) -> None:
    if devices * minimum > len(labels):
        with pytest.raises(ValueError, match="cannot give"):
            dirichlet_partition(labels, devices, alpha, seed=seed, min_examples=minimum)
        return
    shares = dirichlet_partition(labels, devices, alpha, seed=seed, min_examples=minimum)
    assert len(shares) == devices
    assert all(len(share) >= minimum for share in shares)
    assert all(np.all(np.diff(share) > 0) for share in shares)  # sorted, no repeats
    everything = np.concatenate(shares)
    assert np.array_equal(np.sort(everything), np.arange(len(labels)))


@settings(max_examples=25, deadline=None)
@given(labels=labels_strategy, devices=st.integers(1, 20), alpha=alphas, seed=st.integers(0, 1000))
def test_partition_is_a_function_of_its_seed(labels, devices, alpha, seed) -> None:
    first = dirichlet_partition(labels, devices, alpha, seed=seed, min_examples=0)
    again = dirichlet_partition(labels, devices, alpha, seed=seed, min_examples=0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def classes_per_device(labels: np.ndarray, shares: list[np.ndarray]) -> float:
    return float(np.mean([len(np.unique(labels[share])) for share in shares]))


def test_small_alpha_skews_labels_and_large_alpha_approaches_an_even_split() -> None:
    labels = np.repeat(np.arange(10), 100)
    skewed = dirichlet_partition(labels, 20, 0.1, seed=1)
    even = dirichlet_partition(labels, 20, 1000.0, seed=1)
    assert classes_per_device(labels, skewed) < 5 < 9.5 < classes_per_device(labels, even)
    sizes = [len(share) for share in even]
    assert max(sizes) - min(sizes) < 20  # about 50 each


@pytest.mark.parametrize("labels, devices, alpha, message", [
    (np.zeros(10, np.int64), 0, 0.5, "at least 1"),
    (np.zeros(10, np.int64), 2, 0.0, "alpha"),
    (np.zeros(10, np.int64), 2, float("nan"), "alpha"),
    (np.zeros((5, 2), np.int64), 2, 0.5, "1-D"),
    (np.zeros(10, np.float32), 2, 0.5, "integer"),
])
def test_bad_arguments_are_named(labels, devices, alpha, message) -> None:
    with pytest.raises(ValueError, match=message):
        dirichlet_partition(labels, devices, alpha)
    with pytest.raises(ValueError, match=message):
        dirichlet_sample(labels, devices, alpha, 5)


@settings(max_examples=40, deadline=None)
@given(labels=labels_strategy, devices=st.integers(1, 60), alpha=alphas, per_device=st.integers(1, 50),
       seed=st.integers(0, 1000))
def test_samples_have_the_asked_size_and_repeat_only_when_a_class_runs_out(labels, devices, alpha, per_device,
                                                                           seed) -> None:
    shares = dirichlet_sample(labels, devices, alpha, per_device, seed=seed)
    assert len(shares) == devices
    for share in shares:
        assert len(share) == per_device and share.min() >= 0 and share.max() < len(labels)
        for label in np.unique(labels[share]):
            drawn = share[labels[share] == label]
            if len(drawn) <= np.sum(labels == label):
                assert len(np.unique(drawn)) == len(drawn)


def test_samples_serve_a_fleet_larger_than_the_data_set_with_skewed_labels() -> None:
    labels = np.repeat(np.arange(10), 30)
    shares = dirichlet_sample(labels, 1000, 0.1, 20, seed=0)
    assert len(shares) == 1000 and all(len(share) == 20 for share in shares)
    assert classes_per_device(labels, shares) < 4
    with pytest.raises(ValueError, match="examples_per_device"):
        dirichlet_sample(labels, 3, 0.5, 0)
