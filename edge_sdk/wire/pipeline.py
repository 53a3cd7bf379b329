"""One tensor through its encoding: rotation → sparsity → values → entropy, and back.

``encode_tensor`` makes a record's payload and the float32 reconstruction a reader will see (what
error feedback needs). ``parse_tensor`` validates a received payload completely, without
materialising values; ``ParsedTensor`` then yields the values on demand, one tensor at a time.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np

from edge_sdk.wire.encoding import (
    Eden,
    Encoding,
    Float16,
    Float32,
    Layout,
    Quantiser,
    RandKParams,
    TopKParams,
    layout,
)
from edge_sdk.wire.errors import DecodeError
from edge_sdk.wire.kernels import FAST, Kernels
from edge_sdk.wire.quantize import check_eden_scales

DEFLATE_LEVEL = 6


def encode_tensor(
    x: np.ndarray, encoding: Encoding, rounding_seed: int, kernels: Kernels = FAST
) -> tuple[Encoding, bytes, np.ndarray]:
    """Encode flat float32 ``x``: (encoding as written, payload, float32 reconstruction of x)."""
    rotation = encoding.rotation
    z = x if rotation is None else kernels.rotate(x, rotation.log2_block, rotation.seed)
    if not np.all(np.isfinite(z)):
        raise ValueError("rotated values overflow float32")
    indices = _select(encoding, z, kernels)
    values = z if indices is None else z[indices]
    explicit = isinstance(encoding.sparsity, TopKParams) and indices.size
    index_bytes = kernels.elias_fano_encode(indices, z.size) if explicit else b""
    value_bytes, decoded = _encode_values(values, encoding, rounding_seed, kernels)
    z_hat = decoded if indices is None else _scatter(decoded, indices, z.size)
    if rotation is not None:
        z_hat = kernels.unrotate(z_hat, rotation.log2_block, rotation.seed, x.size, overwrite=True)
    encoding, payload = _entropy_code(encoding, index_bytes + value_bytes)
    return encoding, payload, z_hat


def _select(encoding: Encoding, z: np.ndarray, kernels: Kernels) -> np.ndarray | None:
    sparsity = encoding.sparsity
    if isinstance(sparsity, TopKParams):
        return kernels.topk_indices(z, sparsity.k)
    if isinstance(sparsity, RandKParams):
        return kernels.randk_indices(z.size, sparsity.k, sparsity.seed)
    return None


def _encode_values(values: np.ndarray, encoding: Encoding, seed: int, kernels: Kernels) -> tuple[bytes, np.ndarray]:
    """(values section bytes, the float32 values a reader decodes from them)."""
    coding = encoding.values
    if isinstance(coding, Float32):
        return values.astype("<f4").tobytes(), values
    if isinstance(coding, Float16):
        data = kernels.to_float16(values)
        return data, np.frombuffer(data, dtype="<f2").astype(np.float32)
    scales, codes = kernels.quantize(coding, values, seed)
    decoded = kernels.dequantize(coding, scales, codes, np.float32)
    return scales.astype("<f4").tobytes() + kernels.pack_codes(codes, coding.bits), decoded


def _scatter(values: np.ndarray, indices: np.ndarray, m: int) -> np.ndarray:
    dense = np.zeros(m, dtype=values.dtype)
    dense[indices] = values
    return dense


def _entropy_code(encoding: Encoding, raw: bytes) -> tuple[Encoding, bytes]:
    """Deflate when asked and only when it helps (the format requires a strict gain)."""
    if encoding.deflate:
        packed = zlib.compress(raw, DEFLATE_LEVEL)
        if len(packed) < len(raw):
            return encoding, packed
    return replace(encoding, deflate=False), raw


@dataclass(frozen=True)
class ParsedTensor:
    """A validated record, values still coded: decoding them cannot fail."""

    name: str
    shape: tuple[int, ...]
    encoding: Encoding
    layout: Layout
    indices: np.ndarray | None  # topk only; randk indices are recomputed from the seed
    scales: np.ndarray | None  # quantisers only
    body: bytes | np.ndarray  # f32/f16 value bytes, or uint8 codes

    def float_values(self) -> np.ndarray:
        """The stored f32/f16 values (a view of the payload, no copy); not for quantised tensors."""
        return _float_view(self.body, self.encoding.values)

    def coded_values(self, kernels: Kernels = FAST) -> np.ndarray:
        """The ``count`` coded-domain values in float64."""
        coding = self.encoding.values
        if isinstance(coding, Quantiser):
            return kernels.dequantize(coding, self.scales, self.body)
        return self.float_values().astype(np.float64)

    def coded_indices(self, kernels: Kernels = FAST) -> np.ndarray | None:
        """Positions of the values in the coded domain (None when dense)."""
        sparsity = self.encoding.sparsity
        if isinstance(sparsity, RandKParams):
            return kernels.randk_indices(self.layout.m, sparsity.k, sparsity.seed)
        return self.indices

    def coded_domain(self, kernels: Kernels = FAST) -> np.ndarray:
        """The dense float64 vector of length m, before un-rotation."""
        values, indices = self.coded_values(kernels), self.coded_indices(kernels)
        return values if indices is None else _scatter(values, indices, self.layout.m)

    def unrotated(self, z: np.ndarray, kernels: Kernels = FAST, overwrite: bool = False) -> np.ndarray:
        """Coded-domain ``z`` (length m) back to the tensor's flat n values, in z's precision."""
        rotation = self.encoding.rotation
        if rotation is None:
            return z
        return kernels.unrotate(z, rotation.log2_block, rotation.seed, self.layout.n, overwrite=overwrite)

    def decode(self, kernels: Kernels = FAST) -> np.ndarray:
        """The float32 tensor."""
        flat = self.unrotated(self.coded_domain(kernels), kernels, overwrite=True)
        return flat.astype(np.float32).reshape(self.shape)


def parse_tensor(
    name: str, shape: tuple[int, ...], encoding: Encoding, payload: bytes | memoryview, kernels: Kernels = FAST
) -> ParsedTensor:
    """Validate a payload against its encoding; DecodeError (naming the tensor) if anything is off."""
    try:
        return _parse(name, shape, encoding, payload, kernels)
    except DecodeError as exc:
        raise DecodeError(f"tensor {name!r}: {exc}") from None


def _parse(
    name: str, shape: tuple[int, ...], encoding: Encoding, payload: bytes | memoryview, kernels: Kernels
) -> ParsedTensor:
    plan = layout(encoding, math.prod(shape))
    raw = _inflate(payload, plan.raw_size) if encoding.deflate else _unchanging(payload)
    if len(raw) != plan.raw_size:
        raise DecodeError(f"payload {len(raw)} bytes, expected {plan.raw_size}")
    indices = kernels.elias_fano_decode(raw[: plan.index_bytes], plan.count, plan.m) if plan.index_bytes else None
    scales_end = plan.index_bytes + plan.scale_bytes
    body = raw[scales_end:]
    coding = encoding.values
    if not isinstance(coding, Quantiser):
        _check_finite(_float_view(body, coding), "value")
        return ParsedTensor(name, shape, encoding, plan, indices, None, body)
    scales = np.frombuffer(raw[plan.index_bytes : scales_end], dtype="<f4").astype(np.float32)
    _check_scales(scales, coding)
    return ParsedTensor(
        name, shape, encoding, plan, indices, scales, kernels.unpack_codes(body, coding.bits, plan.count)
    )


def _float_view(body: bytes | memoryview, coding: Float32 | Float16) -> np.ndarray:
    return np.frombuffer(body, dtype="<f4" if isinstance(coding, Float32) else "<f2")


def _unchanging(payload: bytes | memoryview) -> bytes | memoryview:
    """The payload itself if it views immutable bytes, else a copy: parsed values must never change."""
    if isinstance(payload, bytes) or (isinstance(payload, memoryview) and isinstance(payload.obj, bytes)):
        return payload
    return bytes(payload)


def _inflate(payload: bytes | memoryview, raw_size: int) -> bytes:
    """Inflate a zlib stream to exactly raw_size bytes, never producing more than raw_size + 1."""
    if len(payload) >= raw_size:
        raise DecodeError(f"deflated payload {len(payload)} bytes is not smaller than its raw size {raw_size}")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, raw_size + 1)
    except zlib.error as exc:
        raise DecodeError(f"damaged zlib stream ({exc})") from None
    if len(raw) != raw_size or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise DecodeError(f"zlib stream does not inflate to exactly {raw_size} bytes")
    return raw


def _check_finite(values: np.ndarray, what: str) -> None:
    if np.isfinite(values).all():
        return
    bad = np.flatnonzero(~np.isfinite(values))
    raise DecodeError(f"{what} {bad[0]} is {values[bad[0]]}")


def _check_scales(scales: np.ndarray, coding: Quantiser) -> None:
    _check_finite(scales, "scale")
    if (scales < 0).any():
        raise DecodeError(f"scale {int(np.flatnonzero(scales < 0)[0])} is negative")
    if isinstance(coding, Eden):
        check_eden_scales(scales, coding.bits, DecodeError)
