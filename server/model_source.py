"""Where the served model comes from: a converted ``.tflite``, or a ``.keras`` converted at start-up.

The TFLite runtime (for the initial weights and evaluation) and TensorFlow (for conversion)
are imported only here, only when needed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk._lazy import import_optional
from server.storage import write_atomic


class ModelSourceError(ValueError):
    """The model file cannot be served; the message says why."""


def load_model_bytes(path: Path, convert: dict[str, Any] | None = None, cache_dir: Path | None = None) -> bytes:
    """The trainable ``.tflite`` bytes for ``path``; a ``.keras`` model is converted first with the
    ``convert`` options (``converters.convert.ConvertOptions`` fields), cached in ``cache_dir``."""
    path = Path(path)
    if not path.is_file():
        raise ModelSourceError(f"model file {path} does not exist")
    if path.suffix == ".tflite":
        return path.read_bytes()
    if path.suffix not in (".keras", ".h5"):
        raise ModelSourceError(f"model must be a .tflite (from fedlite convert) or a .keras file, got {path.name}")
    options = dict(convert or {})
    key = hashlib.sha256(path.read_bytes() + repr(sorted(options.items())).encode()).hexdigest()[:16]
    cached = Path(cache_dir) / f"{path.stem}-{key}.tflite" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    model = _convert(path, options)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, model)
    return model


def _convert(path: Path, options: dict[str, Any]) -> bytes:
    convert = import_optional("converters.convert", "'fedlite[convert]'")
    if "loss" not in options:
        raise ModelSourceError("serving a .keras model needs its training loss: set [convert] loss (or --loss)")
    try:
        result = convert.convert_model(convert.load_keras_model(path), convert.ConvertOptions(**options))
    except (TypeError, ValueError) as exc:
        raise ModelSourceError(f"cannot convert {path.name}: {exc}") from exc
    if not result.parity.passed:
        raise ModelSourceError(f"converting {path.name} failed its TensorFlow/TFLite parity check")
    return bytes(result.model)


def open_model(model_bytes: bytes) -> Any:
    """An ``edge_sdk.TrainableModel`` on the stock TFLite interpreter."""
    from edge_sdk.model import TrainableModel

    return TrainableModel(model_bytes)


def initial_weights(model_bytes: bytes) -> dict[str, np.ndarray]:
    """The weights stored in the model file (version 0)."""
    weights = open_model(model_bytes).get_weights()
    return {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}


class Evaluator:
    """Scores global weights on a held-out ``.npz`` file with arrays ``x`` and ``y``."""

    def __init__(self, model_bytes: bytes, data_path: Path) -> None:
        try:
            with np.load(data_path, allow_pickle=False) as data:
                self.x, self.y = data["x"], data["y"]
        except (OSError, KeyError, ValueError) as exc:
            raise ModelSourceError(f"evaluation data {data_path} must be an .npz with arrays 'x' and 'y': {exc}") from exc
        self.model = open_model(model_bytes)

    def evaluate(self, weights: dict[str, np.ndarray]) -> dict[str, float]:
        """Loss and (for classification) accuracy of ``weights`` on the held-out data."""
        self.model.set_weights(weights)
        result = self.model.evaluate(self.x, self.y)
        return {name: float(value) for name, value in dict(result).items()}
