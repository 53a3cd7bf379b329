"""Matching bundle tensors to a model's weight list by name (shape and dtype checked)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from edge_sdk.wire.bundle import Record
from edge_sdk.wire.errors import DecodeError


class WeightLike(Protocol):
    """Anything with a name and a shape, such as ``edge_sdk.wire.manifest.WeightSpec``."""

    @property
    def name(self) -> str: ...

    @property
    def shape(self) -> Sequence[int]: ...


def spec_shapes(weights: Sequence[WeightLike]) -> dict[str, tuple[int, ...]]:
    """name → shape, in order; ValueError on duplicate names or a non-float32 dtype."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in weights:
        if spec.name in shapes:
            raise ValueError(f"weight {spec.name!r} is listed twice")
        dtype = str(getattr(spec, "dtype", "float32"))
        if dtype != "float32":
            raise ValueError(f"weight {spec.name!r} has dtype {dtype}; bundles carry float32 only")
        shapes[spec.name] = tuple(int(d) for d in spec.shape)
    return shapes


def match_records(records: Sequence[Record], shapes: Mapping[str, tuple[int, ...]]) -> None:
    """DecodeError unless the records hold each expected name exactly once, with its shape."""
    counts = Counter(record.name for record in records)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise DecodeError(f"duplicate tensors: {', '.join(map(repr, duplicates))}")
    missing = [name for name in shapes if name not in counts]
    extra = sorted(name for name in counts if name not in shapes)
    if missing or extra:
        raise DecodeError(f"tensors do not match the model: missing {missing}, unexpected {extra}")
    for record in records:
        if record.shape != shapes[record.name]:
            raise DecodeError(
                f"tensor {record.name!r}: shape {list(record.shape)}, expected {list(shapes[record.name])}"
            )


def as_float32(name: str, array: object) -> np.ndarray:
    """``array`` as a finite float32 ndarray; ValueError naming the tensor otherwise."""
    try:
        with np.errstate(over="ignore"):
            values = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tensor {name!r}: not a float array ({exc})") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"tensor {name!r} contains NaN or infinity")
    return values
