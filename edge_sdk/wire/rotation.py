"""Block-diagonal randomised Hadamard rotation, vectorised (docs/wire-format.md §3.1).

Forward: random sign flips, then the unnormalised fast Walsh–Hadamard transform of every block,
stages h = 1, 2, ..., block/2 in that order. Each butterfly below performs exactly the float
operations the spec lists, so the bits match any other conforming implementation.
"""

from __future__ import annotations

import sys

import numpy as np

from edge_sdk.wire import prng
from edge_sdk.wire.bits import ceil_div

MAX_LOG2_BLOCK = 16
_PIECE_BYTES = 1 << 19  # transform this much at a time: the pieces stay in cache


def choose_log2_block(n: int, max_log2_block: int) -> int:
    """The writer's block: 2**max_log2_block, or the next power of two >= n if that is smaller."""
    return min(max_log2_block, (max(n, 1) - 1).bit_length())


def padded_length(n: int, log2_block: int) -> int:
    """m: n rounded up to whole blocks."""
    block = 1 << log2_block
    return ceil_div(n, block) * block


def rotate(x: np.ndarray, log2_block: int, seed: int) -> np.ndarray:
    """Forward rotation of flat float32 ``x``: a new float32 array of the padded length."""
    z = np.empty(padded_length(x.size, log2_block), dtype=np.float32)
    z[: x.size] = x
    z[x.size :] = 0.0
    _flip_signs(z, seed)
    _walsh_hadamard(z, 1 << log2_block)
    return z


def unrotate(z: np.ndarray, log2_block: int, seed: int, n: int, overwrite: bool = False) -> np.ndarray:
    """Inverse rotation in ``z``'s own precision (float64 on readers); returns the first n values.

    With ``overwrite`` the transform runs in z's memory (z is then garbage).
    """
    y = z if overwrite else np.array(z, copy=True)
    _walsh_hadamard(y, 1 << log2_block)
    y = y[:n]
    y *= y.dtype.type(2.0**-log2_block)
    _flip_signs(y, seed)
    return y


def _flip_signs(z: np.ndarray, seed: int) -> None:
    """Negate z[e] where bit (e & 63) of output(seed, e >> 6) is set, by toggling its sign bit.

    The sign bit is the top bit of each element's most significant byte (native byte order).
    """
    top_byte = z.itemsize - 1 if sys.byteorder == "little" else 0
    z.view(np.uint8).reshape(-1, z.itemsize)[:, top_byte] ^= prng.sign_bits(seed, z.size) << np.uint8(7)


def _walsh_hadamard(z: np.ndarray, block: int) -> None:
    """In-place unnormalised transform of every block of z, a cache-sized piece at a time.

    Stages run in the spec's order h = 1, 2, 4, ...; two consecutive stages (h, 2h) are fused
    into one radix-4 pass that performs exactly the same float operations.
    """
    step = max(block, _PIECE_BYTES // z.itemsize // block * block)
    scratch = np.empty((4, max(1, step // 4)), dtype=z.dtype)
    for start in range(0, z.size, step):
        piece = z[start : start + step]
        h = 1
        while h < block:
            if 4 * h <= block:
                _radix4(piece, h, scratch)
                h *= 4
            else:
                _radix2(piece, h, scratch.reshape(-1))
                h *= 2


def _radix2(z: np.ndarray, h: int, scratch: np.ndarray) -> None:
    """Stage h: (a, b) -> (a + b, a - b) for every pair (j, j + h)."""
    for a, b in _strided_groups(z, h, 2):
        total = scratch[: a.size].reshape(a.shape)
        np.add(a, b, out=total)
        np.subtract(a, b, out=b)
        a[...] = total


def _radix4(z: np.ndarray, h: int, scratch: np.ndarray) -> None:
    """Stages h then 2h on quarters (a, b, c, d): a+b, a-b, c+d, c-d, then their sums and differences."""
    for a, b, c, d in _strided_groups(z, h, 4):
        s1, d1, s2, d2 = (row[: a.size].reshape(a.shape) for row in scratch)
        np.add(a, b, out=s1)
        np.subtract(a, b, out=d1)
        np.add(c, d, out=s2)
        np.subtract(c, d, out=d2)
        np.add(s1, s2, out=a)
        np.add(d1, d2, out=b)
        np.subtract(s1, s2, out=c)
        np.subtract(d1, d2, out=d)


def _strided_groups(z: np.ndarray, h: int, parts: int) -> list[tuple[np.ndarray, ...]]:
    """Views of elements j, j + h, ..., j + (parts - 1) h for every group start j, shaped for speed."""
    if parts * h <= 16:  # for groups this short, long strided columns beat short contiguous rows
        rows = z.reshape(-1, parts * h)
        return [tuple(rows[:, c + i * h] for i in range(parts)) for c in range(h)]
    groups = z.reshape(-1, parts, h)
    return [tuple(groups[:, i] for i in range(parts))]
