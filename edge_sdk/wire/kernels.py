"""The numeric kernels of the codec, as one swappable set.

``FAST`` holds the vectorised numpy kernels used in production; ``reference.REFERENCE`` holds
loop-by-loop restatements of the spec with the same signatures. The codec pipeline takes a
``Kernels`` so tests can run it on either and demand identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_sdk.wire import bits, quantize, rotation, sparsify
from edge_sdk.wire.encoding import Eden, Quantiser


@dataclass(frozen=True)
class Kernels:
    """One implementation of every numeric step of docs/wire-format.md §3."""

    rotate: Callable[[np.ndarray, int, int], np.ndarray]
    unrotate: Callable[..., np.ndarray]
    topk_indices: Callable[[np.ndarray, int], np.ndarray]
    randk_indices: Callable[[int, int, int], np.ndarray]
    quantize_uniform: Callable[[np.ndarray, int, int, int], tuple[np.ndarray, np.ndarray]]
    dequantize_uniform: Callable[..., np.ndarray]
    quantize_eden: Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]
    dequantize_eden: Callable[..., np.ndarray]
    pack_codes: Callable[[np.ndarray, int], bytes]
    unpack_codes: Callable[[bytes, int, int], np.ndarray]
    elias_fano_encode: Callable[[np.ndarray, int], bytes]
    elias_fano_decode: Callable[[bytes, int, int], np.ndarray]
    to_float16: Callable[[np.ndarray], bytes]

    def quantize(self, quantiser: Quantiser, values: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(float32 scales, uint8 codes) of ``values`` under ``quantiser``."""
        if isinstance(quantiser, Eden):
            return self.quantize_eden(values, quantiser.bits, quantiser.chunk)
        return self.quantize_uniform(values, quantiser.bits, quantiser.chunk, seed)

    def dequantize(
        self, quantiser: Quantiser, scales: np.ndarray, codes: np.ndarray, dtype: type = np.float64
    ) -> np.ndarray:
        """Values of (scales, codes) under ``quantiser``: computed in double, stored as ``dtype``."""
        decode = self.dequantize_eden if isinstance(quantiser, Eden) else self.dequantize_uniform
        return decode(scales, codes, quantiser.bits, quantiser.chunk, dtype)


def float16_bytes(values: np.ndarray) -> bytes:
    """Little-endian binary16 of float32 ``values`` (round to nearest even); ValueError on overflow."""
    with np.errstate(over="ignore"):
        halves = np.asarray(values, dtype=np.float32).astype("<f2")
    if not np.all(np.isfinite(halves)):
        raise ValueError("value outside the float16 range (|x| >= 65520)")
    return halves.tobytes()


FAST = Kernels(
    rotate=rotation.rotate,
    unrotate=rotation.unrotate,
    topk_indices=sparsify.topk_indices,
    randk_indices=sparsify.randk_indices,
    quantize_uniform=quantize.quantize_uniform,
    dequantize_uniform=quantize.dequantize_uniform,
    quantize_eden=quantize.quantize_eden,
    dequantize_eden=quantize.dequantize_eden,
    pack_codes=bits.pack_codes,
    unpack_codes=bits.unpack_codes,
    elias_fano_encode=bits.elias_fano_encode,
    elias_fano_decode=bits.elias_fano_decode,
    to_float16=float16_bytes,
)
