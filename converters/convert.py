"""Keras model → trainable .tflite with its manifest embedded, after the op audit and parity check."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.errors import ConversionError
from converters.export import embed_metadata, to_tflite
from converters.graph import ModelGraph, read_graph
from converters.losses import Loss, canonical_loss, make_loss
from converters.module import TrainableModule
from converters.ops import Activation
from converters.optimizers import Optimizer
from converters.parity import ParityReport, check_parity
from edge_sdk._lazy import import_optional
from edge_sdk.wire.manifest import FORMAT_VERSION, METADATA_NAME, Manifest, TensorSpec, WeightSpec
from edge_sdk.wire.tflite_file import TFLiteFile, parse_tflite

TF_HINT = "'fedlite[convert]'  (TensorFlow is needed only to convert models)"
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


@dataclass(frozen=True)
class ConvertOptions:
    """What to train with: Keras loss and optimizer names, hyper-parameters and static batch size."""

    loss: str
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    batch_size: int = 32
    momentum: float = 0.0
    nesterov: bool = False
    freeze_until: str | None = None
    allow_flex: bool = False
    model_id: str | None = None

    def __post_init__(self) -> None:
        canonical_loss(self.loss)
        self.make_optimizer()  # validates the optimizer and its hyper-parameters
        if self.batch_size <= 0:
            raise ConversionError(f"the batch size must be a positive integer, got {self.batch_size}")
        if self.model_id is not None and not _MODEL_ID.match(self.model_id):
            raise ConversionError(f"model id {self.model_id!r} must be 1-128 letters, digits, '.', '_' or '-'")
        if self.nesterov and not self.momentum:
            raise ConversionError("--nesterov needs a non-zero --momentum")

    def make_optimizer(self) -> Optimizer:
        return Optimizer(self.optimizer.lower(), float(self.learning_rate), float(self.momentum), self.nesterov)


@dataclass(frozen=True)
class ConversionResult:
    """The converted model (manifest embedded), its manifest and what the checks found."""

    model: bytes
    manifest: Manifest
    graph: ModelGraph
    audit: TFLiteFile
    parity: ParityReport


def load_keras_model(path: str | Path) -> Any:
    """Load a .keras/.h5 model without compiling; unreadable files raise ConversionError."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"model file {str(path)!r} does not exist")
    keras = import_optional("keras", TF_HINT)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for unreadable files
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConversionError(f"cannot load Keras model {str(path)!r}: {first_line}") from exc


def convert_model(model: Any, options: ConvertOptions) -> ConversionResult:
    """Convert a Keras model; raises ConversionError (or a subclass) for anything unsupported."""
    tf = import_optional("tensorflow", TF_HINT)
    graph = read_graph(model, options.freeze_until, options.allow_flex)
    loss = make_loss(options.loss, graph.output_shape, _final_activation(graph))
    optimizer = options.make_optimizer()
    if not graph.trainable:
        raise ConversionError("the model has no trainable weights (every layer is frozen)")
    trainable = TrainableModule(tf, graph, loss, optimizer, options.batch_size)
    signatures = trainable.signatures()
    graph_bytes = to_tflite(tf, trainable.module, signatures, options.allow_flex)
    audit = parse_tflite(graph_bytes)
    parity = check_parity(model, graph, loss, optimizer, options.batch_size, graph_bytes,
                          None if audit.builtin_only else signatures)
    manifest = build_manifest(model, options, graph, loss, optimizer, audit, graph_bytes, parity)
    final = embed_metadata(graph_bytes, METADATA_NAME, manifest.to_json().encode())
    return ConversionResult(final, manifest, graph, audit, parity)


def _final_activation(graph: ModelGraph) -> str | None:
    step = graph.final_step
    return step.op.name if step is not None and isinstance(step.op, Activation) else None


def build_manifest(model: Any, options: ConvertOptions, graph: ModelGraph, loss: Loss, optimizer: Optimizer,
                   audit: TFLiteFile, graph_bytes: bytes, parity: ParityReport) -> Manifest:
    """The manifest describing the converted graph ``graph_bytes``."""
    batch = options.batch_size
    label_shape, label_dtype = loss.label_spec(batch, graph.output_shape)
    state = optimizer.state_shapes({w.name: w.value.shape for w in graph.trainable})
    return Manifest(
        format_version=FORMAT_VERSION,
        model_id=options.model_id or _default_id(model),
        graph_sha256=hashlib.sha256(graph_bytes).hexdigest(),
        input=TensorSpec("x", (batch, *graph.input_shape), graph.input_dtype),
        label=TensorSpec("y", label_shape, label_dtype),
        output=TensorSpec("output", (batch, *graph.output_shape), "float32"),
        batch_size=batch,
        task=loss.task,
        num_classes={"classification": loss.num_outputs, "binary": 2}.get(loss.task),
        weights=tuple(WeightSpec(w.name, w.value.shape, "float32", w.trainable, w.keras_path) for w in graph.variables),
        loss={"name": loss.name, "from_logits": loss.from_logits, "reduction": "masked_mean"},
        optimizer={**optimizer.to_dict(), "state": [vars(TensorSpec(name, shape, "float32")) for name, shape in state.items()]},
        ops=audit.op_audit(),
        signatures=tuple(sorted(audit.signatures)),
        frozen_parameters=graph.frozen_parameters,
        parity=parity.to_dict(),
        layers=tuple({"name": info.name, "type": info.kind, "parameters": info.parameters, "frozen": info.frozen}
                     for info in graph.layers),
    )


def _default_id(model: Any) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(getattr(model, "name", "") or "model"))
    return name if _MODEL_ID.match(name) else "model"


def convert_file(source: str | Path, output: str | Path, options: ConvertOptions) -> ConversionResult:
    """Convert ``source`` and write ``output`` (.tflite) plus ``output``'s ``.manifest.json`` side-car.

    Nothing is written when a check fails.
    """
    result = convert_model(load_keras_model(source), options)
    if not result.parity.passed:
        return result
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(result.model)
    manifest_path(output).write_text(result.manifest.to_json() + "\n")
    return result


def manifest_path(model_path: str | Path) -> Path:
    """Where the side-car manifest of ``model_path`` lives: ``OUT.manifest.json`` next to ``OUT.tflite``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".manifest.json")
