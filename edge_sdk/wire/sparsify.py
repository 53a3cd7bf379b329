"""Top-k and random-k selection, vectorised (docs/wire-format.md §3.2, §3.3).

Both build unique 64-bit keys and take the k extreme ones, so the selected set is exactly
defined (no tie depends on the sort algorithm); indices come back in increasing order.
"""

from __future__ import annotations

import numpy as np

from edge_sdk.wire import prng
from edge_sdk.wire.bits import ceil_div

PER_MILLION = 1_000_000
_HIGH_HALF = np.uint64(0xFFFFFFFF00000000)


def kept_count(m: int, ppm: int) -> int:
    """k = max(1, ceil(m * ppm / 1e6)), capped at m (0 when m is 0)."""
    return min(m, max(1, ceil_div(m * ppm, PER_MILLION)))


def topk_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest |values| (float32), ties to the lower index, increasing."""
    magnitude = np.abs(values).view(np.uint32).astype(np.uint64) << np.uint64(32)
    keys = magnitude | (np.uint64(0xFFFFFFFF) - np.arange(values.size, dtype=np.uint64))
    return _sorted(np.argpartition(keys, values.size - k)[values.size - k :]) if k else _empty()


def randk_indices(m: int, k: int, seed: int) -> np.ndarray:
    """Indices of the k smallest keys (output(seed, e) & high half) | e, increasing."""
    keys = (prng.outputs(seed, m) & _HIGH_HALF) | np.arange(m, dtype=np.uint64)
    return _sorted(np.argpartition(keys, k - 1)[:k]) if k else _empty()


def _sorted(indices: np.ndarray) -> np.ndarray:
    return np.sort(indices).astype(np.int64)


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)
