"""Codecs: which encoding each tensor of an update gets (docs/wire-format.md §4).

A ``TensorCodec`` is a policy for one tensor (rotation block, kept fraction, value coding,
deflate); ``resolve`` turns it into the concrete ``Encoding`` written in the record. A ``Codec``
is a named pair of policies: one for tensors with fewer than ``small_below`` elements (biases,
norms: plain float32 by default), one for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_sdk.wire.encoding import (
    Encoding,
    Float32,
    HadamardParams,
    RandKParams,
    TopKParams,
    Values,
)
from edge_sdk.wire.rotation import MAX_LOG2_BLOCK, choose_log2_block, padded_length
from edge_sdk.wire.sparsify import PER_MILLION, kept_count


@dataclass(frozen=True)
class Hadamard:
    """Rotate with blocks of 2**max_log2_block (smaller for tensors shorter than that)."""

    max_log2_block: int = 12

    def __post_init__(self) -> None:
        if not 0 <= self.max_log2_block <= MAX_LOG2_BLOCK:
            raise ValueError(f"max_log2_block must be in [0, {MAX_LOG2_BLOCK}], got {self.max_log2_block}")


@dataclass(frozen=True)
class TopK:
    """Keep the ppm / 1e6 fraction of largest-magnitude values, with explicit indices."""

    ppm: int

    def __post_init__(self) -> None:
        _check_ppm(self.ppm)


@dataclass(frozen=True)
class RandK:
    """Keep a seeded random ppm / 1e6 fraction of the values; no indices on the wire."""

    ppm: int

    def __post_init__(self) -> None:
        _check_ppm(self.ppm)


@dataclass(frozen=True)
class TensorCodec:
    """The pipeline policy for one tensor."""

    values: Values = Float32()
    rotation: Hadamard | None = None
    sparsity: TopK | RandK | None = None
    deflate: bool = False

    def resolve(self, n: int, *, rotation_seed: int = 0, selection_seed: int = 0) -> Encoding:
        """The record encoding for a tensor of n elements and its record's seeds."""
        rotation = None
        m = n
        if self.rotation is not None:
            log2_block = choose_log2_block(n, self.rotation.max_log2_block)
            rotation, m = HadamardParams(log2_block, rotation_seed), padded_length(n, log2_block)
        return Encoding(self.values, rotation, self._sparsity(m, selection_seed), self.deflate)

    def _sparsity(self, m: int, selection_seed: int) -> TopKParams | RandKParams | None:
        if isinstance(self.sparsity, TopK):
            return TopKParams(kept_count(m, self.sparsity.ppm))
        if isinstance(self.sparsity, RandK):
            return RandKParams(kept_count(m, self.sparsity.ppm), selection_seed)
        return None


FLOAT32 = TensorCodec()
SMALL_TENSOR_ELEMENTS = 256


@dataclass(frozen=True)
class Codec:
    """A named codec: ``main`` for most tensors, ``small`` for those under ``small_below`` elements."""

    name: str
    main: TensorCodec
    small: TensorCodec = field(default=FLOAT32)
    small_below: int = SMALL_TENSOR_ELEMENTS

    def for_tensor(self, n: int) -> TensorCodec:
        """The policy for a tensor of n elements."""
        return self.small if n < self.small_below else self.main


def _check_ppm(ppm: int) -> None:
    if not 1 <= ppm <= PER_MILLION:
        raise ValueError(f"ppm (parts per million kept) must be in [1, {PER_MILLION}], got {ppm}")
