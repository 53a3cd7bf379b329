"""Model weights bundles for downloads: every tensor as float32 or float16 (docs/wire-format.md §2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edge_sdk.wire.bundle import KIND_WEIGHTS, Record, read_bundle, write_bundle
from edge_sdk.wire.encoding import Encoding, Float16, Float32, Quantiser
from edge_sdk.wire.errors import DecodeError
from edge_sdk.wire.pipeline import encode_tensor, parse_tensor
from edge_sdk.wire.specs import WeightLike, as_float32, match_records, spec_shapes

WEIGHT_DTYPES = {"float32": Float32(), "float16": Float16()}


def encode_weights(
    weights: Mapping[str, np.ndarray], *, dtype: str = "float32", meta: Mapping, deflate: bool = False
) -> bytes:
    """A weights bundle of ``weights`` (in mapping order) stored as ``dtype`` (float32 or float16)."""
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(WEIGHT_DTYPES)}, got {dtype!r}")
    records = []
    for name, array in weights.items():
        values = as_float32(name, array)
        try:
            encoding, payload, _ = encode_tensor(values.reshape(-1), Encoding(WEIGHT_DTYPES[dtype], deflate=deflate), 0)
        except ValueError as exc:
            raise ValueError(f"tensor {name!r}: {exc}") from None
        records.append(Record(name, values.shape, encoding, payload))
    return write_bundle(KIND_WEIGHTS, meta, records)


def decode_weights(
    data: bytes, weights: Sequence[WeightLike], *, max_bytes: int | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, name → float32 array in the order of ``weights``); DecodeError if invalid."""
    meta, records = read_bundle(data, KIND_WEIGHTS, max_bytes)
    shapes = spec_shapes(weights)
    match_records(records, shapes)
    for record in records:
        encoding = record.encoding
        if encoding.rotation or encoding.sparsity or isinstance(encoding.values, Quantiser):
            raise DecodeError(f"tensor {record.name!r}: a weights bundle holds only float32 or float16 values")
    tensors = {r.name: parse_tensor(r.name, r.shape, r.encoding, r.payload).decode() for r in records}
    return meta, {name: tensors[name] for name in shapes}
