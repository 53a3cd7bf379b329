"""A tensor record's encoding: its stages' wire parameters and the payload layout they imply.

See docs/wire-format.md §2. ``Encoding`` is what one record says about how its payload was made;
codec policies (``codecs.py``) produce one per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from edge_sdk.wire import binary
from edge_sdk.wire.binary import ByteReader
from edge_sdk.wire.bits import CODE_BITS, ceil_div, elias_fano_sizes, packed_size
from edge_sdk.wire.errors import DecodeError
from edge_sdk.wire.rotation import MAX_LOG2_BLOCK, padded_length

MAX_CHUNK = 1 << 30
EDEN_BITS = (1, 2, 4)


@dataclass(frozen=True)
class Float32:
    """Values as IEEE binary32."""

    WIRE_ID: ClassVar[int] = 0

    def params(self) -> bytes:
        return b""


@dataclass(frozen=True)
class Float16:
    """Values as IEEE binary16 (round to nearest even)."""

    WIRE_ID: ClassVar[int] = 1

    def params(self) -> bytes:
        return b""


@dataclass(frozen=True)
class Quantiser:
    """A per-chunk quantiser: ``bits`` per value, one float32 scale per ``chunk`` values."""

    bits: int
    chunk: int
    WIRE_ID: ClassVar[int] = -1
    ALLOWED_BITS: ClassVar[tuple[int, ...]] = ()

    def __post_init__(self) -> None:
        name = type(self).__name__.lower()
        if self.bits not in self.ALLOWED_BITS:
            raise ValueError(f"{name} bits must be one of {self.ALLOWED_BITS}, got {self.bits}")
        if not 1 <= self.chunk <= MAX_CHUNK:
            raise ValueError(f"{name} chunk must be in [1, {MAX_CHUNK}], got {self.chunk}")

    def params(self) -> bytes:
        return binary.u8(self.bits) + binary.u32(self.chunk)


@dataclass(frozen=True)
class Uniform(Quantiser):
    """Stochastic (unbiased) rounding onto 2**bits even levels over [-max|v|, max|v|] per chunk."""

    WIRE_ID: ClassVar[int] = 2
    ALLOWED_BITS: ClassVar[tuple[int, ...]] = CODE_BITS


@dataclass(frozen=True)
class Eden(Quantiser):
    """Nearest Lloyd–Max centroid of N(0, 1) per value, one unbiasing scale per chunk (EDEN)."""

    WIRE_ID: ClassVar[int] = 3
    ALLOWED_BITS: ClassVar[tuple[int, ...]] = EDEN_BITS


Values = Union[Float32, Float16, Uniform, Eden]


@dataclass(frozen=True)
class HadamardParams:
    """A record's rotation: block 2**log2_block, sign-flip stream seed."""

    log2_block: int
    seed: int
    WIRE_ID: ClassVar[int] = 1

    def params(self) -> bytes:
        return binary.u8(self.log2_block) + binary.u64(self.seed)


@dataclass(frozen=True)
class TopKParams:
    """k explicit indices (Elias–Fano coded in the payload)."""

    k: int
    WIRE_ID: ClassVar[int] = 1

    def params(self) -> bytes:
        return binary.u32(self.k)


@dataclass(frozen=True)
class RandKParams:
    """k indices drawn from the selection seed; none in the payload."""

    k: int
    seed: int
    WIRE_ID: ClassVar[int] = 2

    def params(self) -> bytes:
        return binary.u32(self.k) + binary.u64(self.seed)


Sparsity = Union[TopKParams, RandKParams]


@dataclass(frozen=True)
class Encoding:
    """The pipeline of one record: rotation → sparsity → values → entropy."""

    values: Values = Float32()
    rotation: HadamardParams | None = None
    sparsity: Sparsity | None = None
    deflate: bool = False

    def header(self) -> bytes:
        """The record bytes from ``transform`` to ``entropy`` inclusive."""
        parts = [_stage(self.rotation), _stage(self.sparsity), _stage(self.values), binary.u8(int(self.deflate))]
        return b"".join(parts)


@dataclass(frozen=True)
class Layout:
    """Sizes implied by an encoding for a tensor of n elements."""

    n: int
    m: int
    count: int
    index_bytes: int
    scale_bytes: int
    value_bytes: int

    @property
    def raw_size(self) -> int:
        return self.index_bytes + self.scale_bytes + self.value_bytes


def layout(encoding: Encoding, n: int) -> Layout:
    """The payload layout, or DecodeError if the parameters do not fit a tensor of n elements."""
    m = n if encoding.rotation is None else padded_length(n, encoding.rotation.log2_block)
    count = m if encoding.sparsity is None else encoding.sparsity.k
    if encoding.sparsity is not None and not (1 if m else 0) <= count <= m:
        raise DecodeError(f"k = {count} is outside [1, {m}]")
    index_bytes = sum(elias_fano_sizes(count, m)) if isinstance(encoding.sparsity, TopKParams) and m else 0
    values = encoding.values
    if isinstance(values, Quantiser):
        scale_bytes, value_bytes = 4 * ceil_div(count, values.chunk), packed_size(count, values.bits)
    else:
        scale_bytes, value_bytes = 0, count * (4 if isinstance(values, Float32) else 2)
    return Layout(n, m, count, index_bytes, scale_bytes, value_bytes)


def read_encoding(reader: ByteReader) -> Encoding:
    """Parse ``transform`` .. ``entropy``; DecodeError on unknown ids or parameters out of range."""
    rotation = _read_rotation(reader)
    sparsity = _read_sparsity(reader)
    values = _read_values(reader)
    entropy = reader.u8("entropy")
    if entropy > 1:
        raise DecodeError(f"unknown entropy coding {entropy}")
    return Encoding(values, rotation, sparsity, bool(entropy))


def _stage(stage: object | None) -> bytes:
    if stage is None:
        return binary.u8(0)
    return binary.u8(stage.WIRE_ID) + stage.params()  # type: ignore[attr-defined]


def _read_rotation(reader: ByteReader) -> HadamardParams | None:
    kind = reader.u8("transform")
    if kind == 0:
        return None
    if kind != HadamardParams.WIRE_ID:
        raise DecodeError(f"unknown transform {kind}")
    log2_block = reader.u8("log2_block")
    if log2_block > MAX_LOG2_BLOCK:
        raise DecodeError(f"log2_block {log2_block} exceeds {MAX_LOG2_BLOCK}")
    return HadamardParams(log2_block, reader.u64("rotation seed"))


def _read_sparsity(reader: ByteReader) -> Sparsity | None:
    kind = reader.u8("sparsity")
    if kind == 0:
        return None
    if kind == TopKParams.WIRE_ID:
        return TopKParams(reader.u32("k"))
    if kind == RandKParams.WIRE_ID:
        return RandKParams(reader.u32("k"), reader.u64("selection seed"))
    raise DecodeError(f"unknown sparsity {kind}")


_VALUE_CLASSES = {cls.WIRE_ID: cls for cls in (Float32, Float16, Uniform, Eden)}


def _read_values(reader: ByteReader) -> Values:
    kind = reader.u8("values")
    if kind not in _VALUE_CLASSES:
        raise DecodeError(f"unknown value coding {kind}")
    if not issubclass(_VALUE_CLASSES[kind], Quantiser):
        return _VALUE_CLASSES[kind]()
    bits, chunk = reader.u8("bits"), reader.u32("chunk")
    try:
        return _VALUE_CLASSES[kind](bits, chunk)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None
