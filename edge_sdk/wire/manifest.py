"""The trainable-model manifest: what a converted .tflite contains and how to drive it.

The manifest is JSON embedded in the model's flatbuffer metadata under ``fedlite_manifest`` (and
written beside it as ``MODEL.manifest.json``). ``docs/model-contract.md`` specifies every field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from edge_sdk.wire.tflite_file import TFLiteFormatError, parse_tflite

__all__ = [
    "FORMAT_VERSION",
    "METADATA_NAME",
    "Manifest",
    "ManifestError",
    "TensorSpec",
    "WeightSpec",
    "read_manifest",
]

FORMAT_VERSION = 1
METADATA_NAME = "fedlite_manifest"
TASKS = ("classification", "binary", "regression")
DTYPES = ("float32", "int32")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ManifestError(ValueError):
    """A manifest (or the model carrying it) is missing, malformed or inconsistent; names the field."""


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor: ``shape`` includes the static batch first for signature inputs."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class WeightSpec:
    """One tensor of ``get_weights``/``set_weights``; ``name`` is its signature and wire name."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    trainable: bool
    keras_path: str

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Manifest:
    """Everything a device or server needs to know about a converted trainable model."""

    format_version: int
    model_id: str
    graph_sha256: str
    input: TensorSpec
    label: TensorSpec
    output: TensorSpec
    batch_size: int
    task: str
    num_classes: int | None
    weights: tuple[WeightSpec, ...]
    loss: dict[str, Any]
    optimizer: dict[str, Any]
    ops: dict[str, Any]
    signatures: tuple[str, ...]
    frozen_parameters: int
    parity: dict[str, Any] | None = None
    layers: tuple[dict[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def trainable_weights(self) -> tuple[WeightSpec, ...]:
        """The weights the train signature updates."""
        return tuple(spec for spec in self.weights if spec.trainable)

    @property
    def num_trainable_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(spec.size for spec in self.trainable_weights)

    @property
    def optimizer_state(self) -> tuple[TensorSpec, ...]:
        """Tensors of ``get_optimizer_state``/``set_optimizer_state`` (empty for plain SGD)."""
        return tuple(_tensor_spec(item, "optimizer.state") for item in self.optimizer.get("state", ()))

    def weight(self, name: str) -> WeightSpec:
        """The weight called ``name``; ``KeyError`` if there is none."""
        for spec in self.weights:
            if spec.name == name:
                return spec
        raise KeyError(f"model {self.model_id!r} has no weight named {name!r}")

    def to_json(self) -> str:
        """Serialise to JSON text (stable key order)."""
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse JSON text; raise :class:`ManifestError` naming the bad field."""
        try:
            raw = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"manifest is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ManifestError("manifest must be a JSON object")
        return cls(**{name: _field(raw, name) for name in _FIELD_PARSERS})


def read_manifest(data: bytes) -> Manifest:
    """Extract the manifest embedded in a converted .tflite file's metadata."""
    try:
        metadata = parse_tflite(data).metadata
    except TFLiteFormatError as exc:
        raise ManifestError(f"cannot read the model file: {exc}") from exc
    if METADATA_NAME not in metadata:
        raise ManifestError(f"the model has no {METADATA_NAME!r} metadata: it was not converted by fedlite convert")
    return Manifest.from_json(metadata[METADATA_NAME])


def _require(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise ManifestError(f"manifest field {name!r}: {problem}")


def _shape(value: Any, name: str) -> tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value)
    _require(ok, name, f"shape must be a list of positive integers, got {value!r}")
    return tuple(value)


def _tensor_spec(value: Any, name: str) -> TensorSpec:
    if isinstance(value, TensorSpec):
        return value
    _require(isinstance(value, dict), name, "must be an object with name, shape and dtype")
    missing = {"name", "shape", "dtype"} - set(value)
    _require(not missing, name, f"missing {sorted(missing)}")
    return TensorSpec(str(value["name"]), _shape(value["shape"], f"{name}.shape"), str(value["dtype"]))


def _weight_spec(value: Any, name: str) -> WeightSpec:
    spec = _tensor_spec(value, name)
    _require(isinstance(value.get("trainable"), bool), name, "trainable must be true or false")
    return WeightSpec(spec.name, spec.shape, spec.dtype, value["trainable"], str(value.get("keras_path", "")))


def _typed(kind: type | tuple[type, ...], optional: bool = False):
    def parse(value: Any, name: str) -> Any:
        if optional and value is None:
            return None
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        _require(ok, name, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        return value

    return parse


def _sequence(parse_item):
    def parse(value: Any, name: str) -> tuple:
        _require(isinstance(value, list), name, "must be a list")
        return tuple(parse_item(item, f"{name}[{i}]") for i, item in enumerate(value))

    return parse


_FIELD_PARSERS = {
    "format_version": _typed(int),
    "model_id": _typed(str),
    "graph_sha256": _typed(str),
    "input": _tensor_spec,
    "label": _tensor_spec,
    "output": _tensor_spec,
    "batch_size": _typed(int),
    "task": _typed(str),
    "num_classes": _typed(int, optional=True),
    "weights": _sequence(_weight_spec),
    "loss": _typed(dict),
    "optimizer": _typed(dict),
    "ops": _typed(dict),
    "signatures": _sequence(_typed(str)),
    "frozen_parameters": _typed(int),
    "parity": _typed(dict, optional=True),
    "layers": _sequence(_typed(dict)),
}
_OPTIONAL_FIELDS = {"parity": None, "layers": []}


def _field(raw: dict, name: str) -> Any:
    if name not in raw and name not in _OPTIONAL_FIELDS:
        raise ManifestError(f"manifest field {name!r} is missing")
    return _FIELD_PARSERS[name](raw.get(name, _OPTIONAL_FIELDS.get(name)), name)


def _validate(manifest: Manifest) -> None:
    _require(manifest.format_version == FORMAT_VERSION, "format_version",
             f"version {manifest.format_version} is not supported (this reader knows {FORMAT_VERSION})")
    _require(re.fullmatch(r"[0-9a-f]{64}", manifest.graph_sha256) is not None, "graph_sha256", "must be 64 hex digits")
    _require(manifest.task in TASKS, "task", f"must be one of {', '.join(TASKS)}, got {manifest.task!r}")
    _require(manifest.batch_size > 0, "batch_size", "must be positive")
    _require(manifest.input.shape[0] == manifest.batch_size, "input", "shape must start with batch_size")
    _require(manifest.label.shape[0] == manifest.batch_size, "label", "shape must start with batch_size")
    for spec in (manifest.input, manifest.label, manifest.output, *manifest.weights):
        _require(spec.dtype in DTYPES, spec.name, f"dtype must be one of {DTYPES}, got {spec.dtype!r}")
    names = [spec.name for spec in manifest.weights]
    for name in names:
        _require(_IDENTIFIER.match(name) is not None, "weights", f"{name!r} is not a valid identifier")
    _require(len(set(names)) == len(names), "weights", "weight names must be unique")
    _require(manifest.frozen_parameters >= 0, "frozen_parameters", "must not be negative")
