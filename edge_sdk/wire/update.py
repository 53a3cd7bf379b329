"""Encoding and decoding model updates (deltas), with error feedback (docs/wire-format.md §4)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from edge_sdk.wire import accumulate, prng
from edge_sdk.wire.bundle import (
    CRC_BYTES,
    HEADER_BYTES,
    KIND_UPDATE,
    MAX_META_BYTES,
    Record,
    read_bundle,
    record_header_size,
    write_bundle,
)
from edge_sdk.wire.codecs import Codec
from edge_sdk.wire.encoding import layout
from edge_sdk.wire.pipeline import ParsedTensor, encode_tensor, parse_tensor
from edge_sdk.wire.presets import get_preset
from edge_sdk.wire.specs import WeightLike, as_float32, match_records, spec_shapes


def resolve_codec(codec: str | Codec) -> Codec:
    """A preset by name, or the given Codec."""
    return get_preset(codec) if isinstance(codec, str) else codec


def encode_update(
    delta: Mapping[str, np.ndarray],
    codec: str | Codec,
    *,
    seed: int,
    meta: Mapping,
    residual: Mapping[str, np.ndarray] | None = None,
    rotation_seed: int | None = None,
) -> tuple[bytes, dict[str, np.ndarray]]:
    """Encode ``delta + residual``; returns (bundle bytes, new float32 residual per tensor).

    Tensors are written in ``delta``'s order. ``rotation_seed`` (default: ``seed``) should be the
    round's shared seed so the server can undo rotations once per round; ``seed`` drives this
    device's stochastic rounding and random-k selection. Raises ValueError on bad input.
    """
    codec = resolve_codec(codec)
    seed = prng.check_seed(seed)
    rotation_seed = seed if rotation_seed is None else prng.check_seed(rotation_seed, "rotation_seed")
    _check_residual_names(delta, residual)
    records, new_residual = [], {}
    for index, (name, array) in enumerate(delta.items()):
        x = as_float32(name, array)
        if residual is not None:
            x = x + _residual_for(name, residual[name], x.shape)
        policy = codec.for_tensor(x.size)
        encoding = policy.resolve(
            x.size,
            rotation_seed=prng.sub_seed(rotation_seed, prng.ROTATION_TAG, index),
            selection_seed=prng.sub_seed(seed, prng.SELECTION_TAG, index),
        )
        try:
            encoding, payload, x_hat = encode_tensor(
                x.reshape(-1), encoding, prng.sub_seed(seed, prng.ROUNDING_TAG, index)
            )
        except ValueError as exc:
            raise ValueError(f"tensor {name!r}: {exc}") from None
        records.append(Record(name, x.shape, encoding, payload))
        new_residual[name] = _lost(x.reshape(-1), x_hat).reshape(x.shape)
    return write_bundle(KIND_UPDATE, meta, records), new_residual


def _lost(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """x - x_hat in float32, in x_hat's memory when that is a scratch array of the encoder.

    A lossless tensor's x_hat is x itself (possibly the caller's array), which must not change.
    """
    if np.may_share_memory(x, x_hat):
        return x - x_hat
    return np.subtract(x, x_hat, out=x_hat)


def _check_residual_names(delta: Mapping[str, object], residual: Mapping[str, object] | None) -> None:
    if residual is not None and set(residual) != set(delta):
        missing, extra = sorted(set(delta) - set(residual)), sorted(set(residual) - set(delta))
        raise ValueError(f"residual does not match the delta: missing {missing}, unexpected {extra}")


def _residual_for(name: str, residual: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    values = as_float32(f"residual {name}", residual)
    if values.shape != shape:
        raise ValueError(f"residual {name!r} has shape {list(values.shape)}, the delta {list(shape)}")
    return values


class DecodedUpdate:
    """A fully validated update. Tensors are decoded to float32 on access, one at a time."""

    def __init__(self, meta: dict, tensors: Sequence[ParsedTensor], nbytes: int) -> None:
        self.meta = meta
        self.nbytes = nbytes
        self._tensors = {tensor.name: tensor for tensor in tensors}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._tensors[name].decode()

    def __contains__(self, name: object) -> bool:
        return name in self._tensors

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    @property
    def names(self) -> tuple[str, ...]:
        """Tensor names in bundle order."""
        return tuple(self._tensors)

    def parsed(self, name: str) -> ParsedTensor:
        """The still-coded tensor (for aggregation in the coded domain)."""
        return self._tensors[name]

    def tensors(self) -> dict[str, np.ndarray]:
        """Every tensor decoded (materialises the whole update)."""
        return {name: self[name] for name in self._tensors}

    def l2_norm(self, scratch: accumulate.Scratch | None = None) -> float:
        """L2 norm of the float32 decoded update over all tensors (float64 sums, one tensor at a time,
        decoded into ``scratch``: pass a long-lived one to avoid allocations)."""
        return accumulate.l2_norm(list(self._tensors.values()), scratch or accumulate.Scratch())


def decode_update(data: bytes, weights: Sequence[WeightLike], *, max_bytes: int | None = None) -> DecodedUpdate:
    """Validate and parse an update bundle against the model's weights; DecodeError if invalid."""
    meta, records = read_bundle(data, KIND_UPDATE, max_bytes)
    match_records(records, spec_shapes(weights))
    parsed = [parse_tensor(r.name, r.shape, r.encoding, r.payload) for r in records]
    return DecodedUpdate(meta, parsed, len(data))


def max_update_bytes(weights: Sequence[WeightLike], codec: str | Codec) -> int:
    """The largest update this codec can produce for these weights (meta at its maximum size)."""
    codec = resolve_codec(codec)
    total = HEADER_BYTES + MAX_META_BYTES + CRC_BYTES
    for name, shape in spec_shapes(weights).items():
        n = math.prod(shape)
        encoding = codec.for_tensor(n).resolve(n)
        total += record_header_size(name, len(shape), encoding) + layout(encoding, n).raw_size
    return total
