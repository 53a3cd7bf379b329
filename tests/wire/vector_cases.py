"""Golden codec vectors: the cases, their JSON form, and the writer.

Regenerate (only when the format deliberately changes) from the repository root with
``python -m tests.wire.vector_cases``; the layout is described in tests/vectors/README.md.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_sdk.wire import (
    PRESETS,
    Codec,
    Eden,
    Float16,
    Float32,
    Hadamard,
    RandK,
    TensorCodec,
    TopK,
    Uniform,
    decode_update,
    decode_weights,
    encode_update,
    encode_weights,
)
from edge_sdk.wire.bundle import KIND_UPDATE, KIND_WEIGHTS, encode_meta, read_bundle
from edge_sdk.wire.encoding import Encoding, Quantiser, RandKParams, TopKParams, Values
from tests.wire.codec_helpers import specs_of

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "codec"
SHAPES = {"dense/kernel": (24, 20), "dense/bias": (20,), "conv/kernel": (3, 3, 4, 8), "embed": (700,), "scale": ()}
SEED = 0x0123456789ABCDEF
ROTATION_SEED = 2**64 - 2
META = {"model_id": "vector-model", "round": 12, "base_version": 11, "num_examples": 320, "metrics": {"loss": 0.8125}}
WEIGHTS_META = {"model_id": "vector-model", "version": 12}


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    kind: str = "update"
    codec: Codec | None = None  # None: the preset called ``name``
    inputs: str = "heavy"
    weights_dtype: str = "float32"
    deflate: bool = False

    @property
    def update_codec(self) -> Codec:
        return self.codec if self.codec is not None else PRESETS[self.name]


CASES = [Case(name, f"preset {name}") for name in PRESETS] + [
    Case(
        "uniform-1bit",
        "stochastic 1-bit, every tensor (even rank 0)",
        codec=Codec("uniform-1bit", TensorCodec(Uniform(1, 100)), small_below=0),
    ),
    Case(
        "uniform-2bit",
        "stochastic 2-bit, short chunks",
        codec=Codec("uniform-2bit", TensorCodec(Uniform(2, 64)), small_below=0),
    ),
    Case("rot-eden4", "rotation + 4-bit EDEN", codec=Codec("rot-eden4", TensorCodec(Eden(4, 256), Hadamard(8)))),
    Case(
        "rot-randk-eden1",
        "rotation, random-k 25%, 1-bit EDEN",
        codec=Codec("rot-randk-eden1", TensorCodec(Eden(1, 128), Hadamard(7), RandK(250_000))),
    ),
    Case(
        "topk-f16",
        "top-k 5% with float16 values",
        codec=Codec("topk-f16", TensorCodec(Float16(), sparsity=TopK(50_000))),
    ),
    Case(
        "rot-topk-f32-deflate",
        "rotation, top-k 20%, float32, zlib",
        codec=Codec("rot-topk-f32-deflate", TensorCodec(Float32(), Hadamard(5), TopK(200_000), deflate=True)),
    ),
    Case("int8-zeros", "all-zero delta: zero scales", codec=PRESETS["int8"], inputs="zeros"),
    Case("rot-1bit-zeros", "all-zero delta: zero scales, middle codes", codec=PRESETS["rot-1bit"], inputs="zeros"),
    Case("weights-fp32", "model weights, float32", kind="weights"),
    Case(
        "weights-fp16",
        "model weights, float16 with rounding ties, subnormals and 65504",
        kind="weights",
        weights_dtype="float16",
    ),
    Case("weights-fp32-deflate", "model weights, float32, zlib", kind="weights", deflate=True),
]


def inputs(case: Case) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """(delta or weights, residual or None) for a case."""
    rng = np.random.default_rng(7)
    if case.inputs == "zeros":
        return {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}, None
    tensors = {k: (rng.standard_t(3, s) * 0.02).astype(np.float32) for k, s in SHAPES.items()}
    embed = tensors["embed"]
    embed[:8] = [0.0, -0.0, 0.25, -0.25, 0.25, 1e-30, -3e-8, float(np.max(np.abs(embed)))]  # ties, zeros, tiny
    if case.weights_dtype == "float16":
        embed[8:14] = [1 + 2**-11, 1 + 3 * 2**-11, 65504.0, -65519.0, 2**-25 * 1.5, 2**-26]
    residual = {k: (rng.standard_normal(s) * 0.005).astype(np.float32) for k, s in SHAPES.items()}
    return tensors, (residual if case.kind == "update" else None)


def values_json(values: Values) -> dict:
    return {
        "kind": type(values).__name__.lower(),
        **({"bits": values.bits, "chunk": values.chunk} if isinstance(values, Quantiser) else {}),
    }


def tensor_codec_json(policy: TensorCodec) -> dict:
    return {
        "values": values_json(policy.values),
        "rotation": None if policy.rotation is None else {"max_log2_block": policy.rotation.max_log2_block},
        "sparsity": None
        if policy.sparsity is None
        else {"kind": type(policy.sparsity).__name__.lower(), "ppm": policy.sparsity.ppm},
        "deflate": policy.deflate,
    }


def codec_json(codec: Codec) -> dict:
    return {
        "name": codec.name,
        "small_below": codec.small_below,
        "main": tensor_codec_json(codec.main),
        "small": tensor_codec_json(codec.small),
    }


def encoding_json(encoding: Encoding) -> dict:
    rotation, sparsity, values = encoding.rotation, encoding.sparsity, encoding.values
    return {
        "transform": None
        if rotation is None
        else {"kind": "hadamard", "log2_block": rotation.log2_block, "seed": str(rotation.seed)},
        "sparsity": None
        if sparsity is None
        else {
            "kind": "topk" if isinstance(sparsity, TopKParams) else "randk",
            "k": sparsity.k,
            **({"seed": str(sparsity.seed)} if isinstance(sparsity, RandKParams) else {}),
        },
        "values": values_json(values),
        "entropy": "zlib" if encoding.deflate else "none",
    }


def raw_records(data: bytes, kind: int) -> list[tuple[str, tuple[int, ...], Encoding, bytes]]:
    """Every record with its payload inflated: what byte identity means under zlib."""
    _, records = read_bundle(data, kind)
    return [
        (r.name, r.shape, r.encoding, zlib.decompress(r.payload) if r.encoding.deflate else bytes(r.payload))
        for r in records
    ]


def encode_case(case: Case) -> tuple[bytes, dict[str, np.ndarray] | None]:
    """The case's bundle, and the new residual for updates."""
    tensors, residual = inputs(case)
    if case.kind == "weights":
        return encode_weights(tensors, dtype=case.weights_dtype, meta=WEIGHTS_META, deflate=case.deflate), None
    return encode_update(
        tensors, case.update_codec, seed=SEED, rotation_seed=ROTATION_SEED, meta=META, residual=residual
    )


def build(case: Case) -> tuple[dict, bytes]:
    """(vector JSON, bundle bytes) for one case."""
    tensors, residual = inputs(case)
    data, new_residual = encode_case(case)
    kind = KIND_UPDATE if case.kind == "update" else KIND_WEIGHTS
    specs = specs_of(tensors)
    decoded = decode_update(data, specs).tensors() if case.kind == "update" else decode_weights(data, specs)[1]
    meta = META if case.kind == "update" else WEIGHTS_META
    records = {name: (encoding, raw) for name, _, encoding, raw in raw_records(data, kind)}
    vector = {
        "format": "fedlite-codec-vector/1",
        "name": case.name,
        "description": case.description,
        "kind": case.kind,
        "preset": case.name if case.codec is None and case.kind == "update" else None,
        "codec": codec_json(case.update_codec) if case.kind == "update" else None,
        "weights_dtype": case.weights_dtype if case.kind == "weights" else None,
        "deflate": case.deflate if case.kind == "weights" else None,
        "seed": str(SEED) if case.kind == "update" else None,
        "rotation_seed": str(ROTATION_SEED) if case.kind == "update" else None,
        "meta_json": encode_meta(meta).decode("utf-8"),
        "bundle": f"{case.name}.bin",
        "bundle_bytes": len(data),
        "bundle_sha256": hashlib.sha256(data).hexdigest(),
        "uses_zlib": any(encoding.deflate for encoding, _ in records.values()),
        "tensors": [
            {
                "name": name,
                "shape": list(array.shape),
                "input_f32": array.astype("<f4").tobytes().hex(),
                "residual_f32": None if residual is None else residual[name].astype("<f4").tobytes().hex(),
                "record": encoding_json(records[name][0]),
                "raw_payload": records[name][1].hex(),
                "decoded_f32": decoded[name].astype("<f4").tobytes().hex(),
                "new_residual_f32": None if new_residual is None else new_residual[name].astype("<f4").tobytes().hex(),
            }
            for name, array in tensors.items()
        ],
    }
    return vector, data


def write_all(directory: Path = VECTOR_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        vector, data = build(case)
        (directory / f"{case.name}.bin").write_bytes(data)
        (directory / f"{case.name}.json").write_text(json.dumps(vector, indent=1) + "\n")
        print(f"{case.name}: {len(data)} bytes, sha256 {vector['bundle_sha256'][:16]}")


if __name__ == "__main__":
    write_all()
