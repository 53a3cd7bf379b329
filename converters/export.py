"""Concrete functions → one .tflite flatbuffer, and metadata embedding into it."""

from __future__ import annotations

import re
import tempfile
from typing import Any

from converters.errors import ConversionError


def to_tflite(tf: Any, module: Any, signatures: dict[str, Any], allow_flex: bool) -> bytes:
    """Save a SavedModel with ``signatures`` and convert it with resource variables enabled.

    Only TFLITE_BUILTINS are allowed unless ``allow_flex``, in which case TensorFlow ops the
    builtins cannot express are kept as Flex ops (listed by the op audit).
    """
    with tempfile.TemporaryDirectory(prefix="fedlite-convert-") as saved_model:
        tf.saved_model.save(module, saved_model, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=list(signatures))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if allow_flex:
            converter.target_spec.supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter.experimental_enable_resource_variables = True
        try:
            return bytes(converter.convert())
        except Exception as exc:  # the converter raises ConverterError with MLIR diagnostics
            raise ConversionError(f"TensorFlow Lite cannot convert the model: {_diagnosis(str(exc))}") from exc


def _diagnosis(message: str) -> str:
    """The useful part of a converter error: which TensorFlow ops could not be lowered."""
    ops = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", message)))
    if ops:
        return f"ops {', '.join(ops)} are neither TFLite builtins nor Flex ops"
    errors = re.findall(r"error: (.+)", message)
    return errors[0].strip() if errors else message.strip().splitlines()[0]


def embed_metadata(model: bytes, name: str, payload: bytes) -> bytes:
    """Add (or replace) the metadata entry ``name`` holding ``payload``."""
    import flatbuffers
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    tree.metadata = [entry for entry in (tree.metadata or []) if entry.name.decode() != name]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(tree.buffers) - 1
    tree.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + len(payload) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
