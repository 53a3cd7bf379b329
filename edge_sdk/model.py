"""``TrainableModel``: train, evaluate and run a converted .tflite model on the stock interpreter.

All shapes in the graph are static (batch ``B`` from the manifest); this class pads partial
batches and masks the padding out, so callers pass arrays of any length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.runtime import open_interpreter
from edge_sdk.wire.manifest import Manifest, ManifestError, read_manifest

__all__ = ["DataSpecError", "ModelFileError", "PLACEHOLDER_INPUT", "TrainableModel", "WeightsMismatchError"]

REQUIRED_SIGNATURES = ("train", "evaluate", "infer", "get_weights", "set_weights", "set_learning_rate")
# The input of the signatures that take no data (get_weights, get_optimizer_state, reset_optimizer):
# float32 [1], value ignored. LiteRT's Java API cannot call a signature without inputs.
PLACEHOLDER_INPUT = "unused"
_PLACEHOLDER_VALUE = np.zeros(1, np.float32)


class ModelFileError(ValueError):
    """The model file is not a readable FedLite trainable model."""


class WeightsMismatchError(ValueError):
    """Weights do not match the manifest (names, shapes or dtypes); names the tensor."""


class DataSpecError(ValueError):
    """Training or inference data does not fit the model's input or label spec."""


def _load(source: str | Path | bytes | bytearray | memoryview) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return Path(source).read_bytes()


class TrainableModel:
    """A converted model opened in the TFLite interpreter, with a Keras-like API."""

    def __init__(self, source: str | Path | bytes, num_threads: int | None = None) -> None:
        data = _load(source)
        try:
            self.manifest: Manifest = read_manifest(data)
        except ManifestError as exc:
            raise ModelFileError(str(exc)) from exc
        try:
            self._interpreter, self.runtime = open_interpreter(data, num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"the TFLite runtime cannot load the model: {exc}") from exc
        missing = [name for name in REQUIRED_SIGNATURES if name not in self._interpreter.get_signature_list()]
        if missing:
            raise ModelFileError(f"the model lacks the signatures {missing}: convert it with fedlite convert")
        self._runners: dict[str, Any] = {}
        self._learning_rate = float(self.manifest.optimizer["learning_rate"])

    def _run(self, signature: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        if signature not in self._runners:
            self._runners[signature] = self._interpreter.get_signature_runner(signature)
        return self._runners[signature](**inputs)

    def _run_without_data(self, signature: str) -> dict[str, np.ndarray]:
        """Run a signature that takes no data: its one input is the placeholder."""
        return self._run(signature, **{PLACEHOLDER_INPUT: _PLACEHOLDER_VALUE})

    def _read(self, signature: str, specs: tuple) -> dict[str, np.ndarray]:
        """Float32 copies of the tensors ``specs`` names, from the getter ``signature``, in spec order."""
        raw = self._run_without_data(signature)
        return {spec.name: np.array(raw[spec.name], dtype=np.float32) for spec in specs}

    # --- data -----------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """The static batch B of every signature."""
        return self.manifest.batch_size

    def _check_x(self, x: Any) -> np.ndarray:
        spec = self.manifest.input
        x = np.asarray(x)
        if x.ndim != len(spec.shape) or x.shape[1:] != spec.shape[1:]:
            raise DataSpecError(f"x must have shape (N, {', '.join(map(str, spec.shape[1:]))}), got {x.shape}")
        if spec.dtype == "int32" and not np.issubdtype(x.dtype, np.integer):
            raise DataSpecError(f"x must hold integer ids for this model, got dtype {x.dtype}")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise DataSpecError(f"x must be numeric, got dtype {x.dtype}")
        return x.astype(spec.dtype, copy=False)

    def _check_y(self, y: Any, count: int) -> np.ndarray:
        spec = self.manifest.label
        y = np.asarray(y)
        if spec.dtype == "int32" and y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (count, *spec.shape[1:]):
            raise DataSpecError(f"y must have shape {(count, *spec.shape[1:])} for loss "
                                f"{self.manifest.loss['name']}, got {y.shape}")
        if spec.dtype == "int32":
            if not np.issubdtype(y.dtype, np.integer):
                raise DataSpecError(f"y must hold integer class ids, got dtype {y.dtype}")
            if count and (y.min() < 0 or y.max() >= (self.manifest.num_classes or 0)):
                raise DataSpecError(f"class ids must be in [0, {self.manifest.num_classes}), got {y.min()}..{y.max()}")
        return y.astype(spec.dtype, copy=False)

    def _check_xy(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x = self._check_x(x)
        if len(x) == 0:
            raise DataSpecError("no examples: x is empty")
        return x, self._check_y(y, len(x))

    def _batches(self, arrays: tuple[np.ndarray, ...], order: np.ndarray, rows: int) -> Iterator[tuple[int, list[np.ndarray], np.ndarray]]:
        """Padded (count, [arrays...], mask) batches of ``rows`` real examples each."""
        padded = [np.zeros((self.batch_size, *a.shape[1:]), a.dtype) for a in arrays]
        mask = np.zeros(self.batch_size, np.float32)
        for start in range(0, len(order), rows):
            index = order[start : start + rows]
            for buffer, array in zip(padded, arrays):
                buffer[: len(index)] = array[index]
                buffer[len(index):] = 0
            mask[: len(index)], mask[len(index):] = 1.0, 0.0
            yield len(index), padded, mask

    # --- training and inference -----------------------------------------------------------------

    def fit(self, x: Any, y: Any, epochs: int = 1, shuffle: bool = True, seed: int | None = None,
            batch_size: int | None = None) -> list[float]:
        """Train ``epochs`` passes over (x, y); returns each epoch's mean loss over its examples."""
        x, y = self._check_xy(x, y)
        rows = self._rows(batch_size)
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        rng = np.random.default_rng(seed)
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            history.append(self._weighted_mean(self._steps("train", (x, y), order, rows), "loss"))
        return history

    def _rows(self, batch_size: int | None) -> int:
        if batch_size is None:
            return self.batch_size
        if not 1 <= batch_size <= self.batch_size:
            raise ValueError(f"batch_size must be in [1, {self.batch_size}] (the model's static batch), got {batch_size}")
        return batch_size

    def _steps(self, signature: str, arrays: tuple[np.ndarray, np.ndarray], order: np.ndarray, rows: int):
        for count, (xb, yb), mask in self._batches(arrays, order, rows):
            yield count, self._run(signature, x=xb, y=yb, mask=mask)

    @staticmethod
    def _weighted_mean(results: Any, key: str) -> float:
        total, count = 0.0, 0
        for n, out in results:
            total, count = total + float(out[key]) * n, count + n
        return total / count

    def evaluate(self, x: Any, y: Any) -> dict[str, float]:
        """Mean loss (and accuracy for classification/binary tasks) over (x, y), weights unchanged."""
        x, y = self._check_xy(x, y)
        loss_sum, correct, seen = 0.0, 0.0, 0
        for count, out in self._steps("evaluate", (x, y), np.arange(len(x)), self.batch_size):
            loss_sum += float(out["loss"]) * count
            correct += float(out.get("correct", 0.0))
            seen += count
        metrics = {"loss": loss_sum / seen, "num_examples": seen}
        if self.manifest.task != "regression":
            metrics["accuracy"] = correct / seen
        return metrics

    def predict(self, x: Any) -> np.ndarray:
        """Model outputs for every row of x (the final activation included)."""
        x = self._check_x(x)
        out = np.empty((len(x), *self.manifest.output.shape[1:]), np.float32)
        for start, (count, (xb,), _) in zip(range(0, len(x), self.batch_size),
                                           self._batches((x,), np.arange(len(x)), self.batch_size)):
            out[start : start + count] = self._run("infer", x=xb)["output"][:count]
        return out

    # --- weights, optimizer state, learning rate ---------------------------------------------------

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every weight, by manifest name, in manifest order."""
        return self._read("get_weights", self.manifest.weights)

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Replace every weight; names, shapes and dtypes must match the manifest exactly."""
        self._run("set_weights", **_validated(weights, self.manifest.weights, "weight"))

    def get_optimizer_state(self) -> dict[str, np.ndarray]:
        """Optimizer state tensors by name (empty for plain SGD)."""
        if not self.manifest.optimizer_state:
            return {}
        return self._read("get_optimizer_state", self.manifest.optimizer_state)

    def set_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the optimizer state (as returned by get_optimizer_state)."""
        if self.manifest.optimizer_state or state:
            self._run("set_optimizer_state", **_validated(state, self.manifest.optimizer_state, "optimizer state tensor"))

    def reset_optimizer(self) -> None:
        """Zero the optimizer state (momenta, Adam moments and step count)."""
        if self.manifest.optimizer_state:
            self._run_without_data("reset_optimizer")

    @property
    def learning_rate(self) -> float:
        """The learning rate the next train step uses."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"the learning rate must be a positive finite number, got {value}")
        self._run("set_learning_rate", learning_rate=np.array(value, np.float32))
        self._learning_rate = value


def _validated(tensors: Mapping[str, Any], specs: tuple, what: str) -> dict[str, np.ndarray]:
    expected = {spec.name: spec for spec in specs}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        parts = ([f"missing {what}s {missing}"] if missing else []) + ([f"unknown {what}s {extra}"] if extra else [])
        raise WeightsMismatchError("; ".join(parts))
    checked = {}
    for name, spec in expected.items():
        array = np.asarray(tensors[name])
        if array.dtype != np.dtype(spec.dtype):
            raise WeightsMismatchError(f"{what} {name!r}: dtype must be {spec.dtype}, got {array.dtype}")
        if array.shape != tuple(spec.shape):
            raise WeightsMismatchError(f"{what} {name!r}: shape must be {tuple(spec.shape)}, got {array.shape}")
        if not np.isfinite(array).all():
            raise WeightsMismatchError(f"{what} {name!r}: contains NaN or infinity")
        checked[name] = np.ascontiguousarray(array)
    return checked
