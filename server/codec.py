"""The server's one seam to the wire format's codecs (``edge_sdk.wire``).

Everything the server needs from the bundle format goes through these few functions, so the
rest of the server speaks plain numpy and never depends on the codec's internals.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edge_sdk import wire
from edge_sdk.wire.accumulate import Scratch
from edge_sdk.wire.manifest import WeightSpec

ENCODINGS = {"fp32": "float32", "fp16": "float16"}
_PER_THREAD = threading.local()  # each thread's reusable decode buffers (norms are computed on worker threads)


def decode_update(body: bytes, specs: Sequence[WeightSpec], *, max_bytes: int) -> Any:
    """Decode an update bundle (raises ValueError naming what is wrong)."""
    return wire.decode_update(body, specs, max_bytes=max_bytes)


def update_tensors(decoded: Any) -> dict[str, np.ndarray]:
    """The decoded update's tensors by name."""
    return decoded.tensors()


def update_meta(decoded: Any) -> Mapping[str, Any]:
    """The decoded update's meta object."""
    return decoded.meta


def update_norm(decoded: Any) -> float:
    """The decoded update's global L2 norm (decoded one tensor at a time into this thread's buffers)."""
    if not hasattr(_PER_THREAD, "scratch"):
        _PER_THREAD.scratch = Scratch()
    return float(decoded.l2_norm(_PER_THREAD.scratch))


def new_sum(specs: Sequence[WeightSpec]) -> Any:
    """A float64 running sum of updates (``.add(update, weight)``, ``.result()``)."""
    return wire.UpdateSum(specs)


def max_update_bytes(specs: Sequence[WeightSpec], preset: str) -> int:
    """The largest legal update body for these weights and codec preset."""
    return int(wire.max_update_bytes(specs, preset))


def check_preset(preset: str) -> None:
    """Raise ValueError if ``preset`` is not a codec preset."""
    wire.get_preset(preset)


def encode_weights(weights: Mapping[str, np.ndarray], encoding: str, meta: Mapping[str, Any]) -> bytes:
    """A weights bundle in ``fp32`` or ``fp16``."""
    return wire.encode_weights(dict(weights), dtype=ENCODINGS[encoding], meta=dict(meta))


def decode_weights(data: bytes, specs: Sequence[WeightSpec]) -> dict[str, np.ndarray]:
    """Weights (float32) from a weights bundle."""
    _, tensors = wire.decode_weights(data, specs)
    return {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}
