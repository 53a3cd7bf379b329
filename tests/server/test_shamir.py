"""Shamir t-of-n sharing: any t shares rebuild the secret, fewer do not."""

from __future__ import annotations

import itertools
import os

import pytest

from server.shamir import PRIME, combine_shares, split_secret


def test_every_threshold_subset_recovers_the_secret() -> None:
    secret = int.from_bytes(os.urandom(32), "big")
    shares = split_secret(secret, threshold=3, holders=range(1, 6))
    for subset in itertools.combinations(shares, 3):
        assert combine_shares({x: shares[x] for x in subset}, threshold=3) == secret


def test_too_few_shares_are_refused_and_reveal_nothing_useful() -> None:
    secret = int.from_bytes(os.urandom(32), "big")
    shares = split_secret(secret, threshold=4, holders=[3, 7, 9, 11, 20])
    with pytest.raises(ValueError, match="need at least 4 shares"):
        combine_shares({x: shares[x] for x in (3, 7, 9)}, threshold=4)
    # Interpolating t-1 shares as if they were enough gives an unrelated value.
    assert combine_shares({x: shares[x] for x in (3, 7, 9)}, threshold=3) != secret


def test_shares_of_the_same_secret_differ_between_splits() -> None:
    assert split_secret(42, 2, [1, 2]) != split_secret(42, 2, [1, 2])


@pytest.mark.parametrize(
    ("secret", "threshold", "holders", "message"),
    [
        (PRIME, 2, [1, 2], "below the field prime"),
        (1, 3, [1, 2], "threshold"),
        (1, 2, [1, 1], "distinct"),
        (1, 1, [0], "distinct"),
    ],
)
def test_bad_arguments_are_named(secret, threshold, holders, message) -> None:
    with pytest.raises(ValueError, match=message):
        split_secret(secret, threshold, holders)
