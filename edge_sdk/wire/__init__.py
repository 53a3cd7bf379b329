"""Byte formats and message types shared by devices and the server: pure, no I/O."""

from edge_sdk.wire.aggregate import UpdateSum
from edge_sdk.wire.codecs import Codec, Hadamard, RandK, TensorCodec, TopK
from edge_sdk.wire.encoding import Eden, Float16, Float32, Uniform
from edge_sdk.wire.errors import DecodeError
from edge_sdk.wire.manifest import Manifest, ManifestError, TensorSpec, WeightSpec, read_manifest
from edge_sdk.wire.presets import PRESETS, get_preset
from edge_sdk.wire.tflite_file import TFLiteFormatError, parse_tflite
from edge_sdk.wire.update import DecodedUpdate, decode_update, encode_update, max_update_bytes
from edge_sdk.wire.weights import decode_weights, encode_weights

__all__ = [
    "Codec",
    "DecodeError",
    "DecodedUpdate",
    "Eden",
    "Float16",
    "Float32",
    "Hadamard",
    "Manifest",
    "ManifestError",
    "PRESETS",
    "RandK",
    "TFLiteFormatError",
    "TensorCodec",
    "TensorSpec",
    "TopK",
    "Uniform",
    "UpdateSum",
    "WeightSpec",
    "decode_update",
    "decode_weights",
    "encode_update",
    "encode_weights",
    "get_preset",
    "max_update_bytes",
    "parse_tflite",
    "read_manifest",
]
