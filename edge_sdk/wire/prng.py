"""SplitMix64, the one pseudo-random generator of the wire format (docs/wire-format.md §3.0).

``output(s, j)`` is the j-th output of SplitMix64 seeded with ``s``; it is computed directly
from ``j``, so whole streams are vectorised and any element can be reproduced on its own.
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB

# Stream tags for sub_seed (docs/wire-format.md §3.0, "Seeds of a bundle").
ROTATION_TAG = 0
ROUNDING_TAG = 1
SELECTION_TAG = 2


def check_seed(seed: int, what: str = "seed") -> int:
    """Return ``seed`` if it is an integer in [0, 2^64), else raise ValueError."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) <= MASK64:
        raise ValueError(f"{what} must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def output(seed: int, index: int) -> int:
    """The ``index``-th (0-based) SplitMix64 output for ``seed``, as a Python int."""
    z = (seed + (index + 1) * GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * _MUL1) & MASK64
    z = ((z ^ (z >> 27)) * _MUL2) & MASK64
    return z ^ (z >> 31)


def sub_seed(seed: int, tag: int, index: int) -> int:
    """The seed of stream ``tag`` for record ``index``: ``output(output(seed, tag), index)``."""
    return output(output(seed, tag), index)


def outputs(seed: int, count: int, start: int = 0) -> np.ndarray:
    """Outputs start .. start+count-1 of SplitMix64 for ``seed`` as a uint64 array."""
    z = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    z *= np.uint64(GAMMA)
    z += np.uint64(seed)
    for shift, mul in ((30, _MUL1), (27, _MUL2)):
        z ^= z >> np.uint64(shift)
        z *= np.uint64(mul)
    z ^= z >> np.uint64(31)
    return z


def uniform_bits(seed: int, count: int, start: int = 0) -> np.ndarray:
    """The 32-bit integers behind u_start .. : the low half of output(seed, e >> 1) for even e, else the high."""
    first_word = start >> 1
    words = outputs(seed, ((start + count + 1) >> 1) - first_word, first_word)
    return words.astype("<u8").view("<u4")[start & 1 : (start & 1) + count]


def sign_bits(seed: int, count: int) -> np.ndarray:
    """Bits b_0 .. b_{count-1} (uint8 0/1): b_e is bit (e & 63) of output(seed, e >> 6)."""
    words = outputs(seed, (count + 63) // 64)
    return np.unpackbits(words.astype("<u8").view(np.uint8), bitorder="little")[:count]
