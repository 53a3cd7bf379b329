"""The named codecs a server can choose for a round (table in docs/wire-format.md §4)."""

from __future__ import annotations

from types import MappingProxyType

from edge_sdk.wire.codecs import Codec, Hadamard, RandK, TensorCodec, TopK
from edge_sdk.wire.encoding import Eden, Float16, Uniform

_ROTATION = Hadamard(max_log2_block=12)
_INT8 = Uniform(bits=8, chunk=512)

PRESETS = MappingProxyType(
    {
        codec.name: codec
        for codec in (
            Codec("fp32", TensorCodec()),
            Codec("fp16", TensorCodec(Float16())),
            Codec("int8", TensorCodec(_INT8)),
            Codec("int8-deflate", TensorCodec(_INT8, deflate=True)),
            Codec("int4", TensorCodec(Uniform(bits=4, chunk=1024))),
            Codec("rot-int4", TensorCodec(Uniform(bits=4, chunk=4096), _ROTATION)),
            Codec("rot-int2", TensorCodec(Uniform(bits=2, chunk=4096), _ROTATION)),
            Codec("rot-2bit", TensorCodec(Eden(bits=2, chunk=4096), _ROTATION)),
            Codec("rot-1bit", TensorCodec(Eden(bits=1, chunk=8192), _ROTATION)),
            Codec("rot-randk50-1bit", TensorCodec(Eden(bits=1, chunk=8192), _ROTATION, RandK(ppm=500_000))),
            Codec("topk-10pct-int8", TensorCodec(_INT8, sparsity=TopK(ppm=100_000))),
            Codec("topk-1pct-int8", TensorCodec(_INT8, sparsity=TopK(ppm=10_000))),
            Codec("randk-10pct-int8", TensorCodec(_INT8, sparsity=RandK(ppm=100_000))),
        )
    }
)


def get_preset(name: str) -> Codec:
    """The preset called ``name``; ValueError listing the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(PRESETS)}") from None
