"""Keras → trainable TensorFlow Lite models that train on the stock interpreter (no Flex ops).

TensorFlow is imported only when a model is converted.
"""

from converters.convert import ConversionResult, ConvertOptions, convert_file, convert_model, load_keras_model, manifest_path
from converters.errors import ConversionError, UnsupportedLayerError

__all__ = [
    "ConversionError",
    "ConversionResult",
    "ConvertOptions",
    "UnsupportedLayerError",
    "convert_file",
    "convert_model",
    "load_keras_model",
    "manifest_path",
]
