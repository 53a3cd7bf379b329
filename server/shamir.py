"""Shamir t-of-n secret sharing over the prime field GF(2^521 - 1), for secure-aggregation seeds.

A secret (an integer below the prime, e.g. a 32-byte key) becomes the constant term of a random
polynomial of degree t - 1; holder x receives the polynomial's value at x. Any t shares give the
secret back by Lagrange interpolation at 0; t - 1 shares are uniformly distributed and say
nothing about it (Shamir 1979).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping

__all__ = ["PRIME", "SHARE_BYTES", "combine_shares", "split_secret"]

PRIME = 2**521 - 1  # a Mersenne prime, larger than any 512-bit secret
SHARE_BYTES = 66  # big-endian encoding of a field element


def split_secret(
    secret: int,
    threshold: int,
    holders: Iterable[int],
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> dict[int, int]:
    """Shares of ``secret`` for each holder id (distinct ids in 1..PRIME-1); any ``threshold`` rebuild it."""
    xs = list(holders)
    if not 0 <= secret < PRIME:
        raise ValueError("secret must be a non-negative integer below the field prime")
    if len(set(xs)) != len(xs) or not all(0 < x < PRIME for x in xs):
        raise ValueError(f"holder ids must be distinct and in 1..PRIME-1, got {xs}")
    if not 1 <= threshold <= len(xs):
        raise ValueError(f"threshold must be in 1..{len(xs)} holders, got {threshold}")
    coefficients = [secret] + [randbelow(PRIME) for _ in range(threshold - 1)]
    return {x: _evaluate(coefficients, x) for x in xs}


def combine_shares(shares: Mapping[int, int], threshold: int) -> int:
    """The secret from at least ``threshold`` shares (holder id -> share value)."""
    if len(shares) < threshold:
        raise ValueError(f"need at least {threshold} shares to recover a secret, got {len(shares)}")
    points = list(shares.items())[:threshold]
    secret = 0
    for j, (x_j, y_j) in enumerate(points):
        numerator, denominator = 1, 1
        for m, (x_m, _) in enumerate(points):
            if m != j:
                numerator = numerator * x_m % PRIME
                denominator = denominator * (x_m - x_j) % PRIME
        secret = (secret + y_j * numerator * pow(denominator, -1, PRIME)) % PRIME
    return secret


def _evaluate(coefficients: list[int], x: int) -> int:
    """Horner evaluation of the polynomial at x, mod PRIME."""
    value = 0
    for coefficient in reversed(coefficients):
        value = (value * x + coefficient) % PRIME
    return value
