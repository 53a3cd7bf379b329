"""Read a Keras 3 model (Sequential, functional, nested) into a flat graph of builtin-safe ops."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters import ops
from converters.errors import ConversionError
from converters.layers import layer_ops


@dataclass(frozen=True)
class Step:
    """One op applied to graph tensors (ids) producing one tensor; ``layer`` names its Keras layer."""

    op: ops.Op
    inputs: tuple[int, ...]
    output: int
    layer: str


@dataclass(frozen=True)
class LayerInfo:
    """A Keras layer as the conversion summary lists it."""

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    parameters: int
    frozen: bool


@dataclass
class ModelGraph:
    """The converted forward graph: tensor 0 is the model input."""

    input_shape: tuple[int, ...]
    input_dtype: str
    output_shape: tuple[int, ...]
    steps: list[Step] = field(default_factory=list)
    weights: list[ops.Weight] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    output: int = 0
    vocabulary_size: int | None = None  # integer inputs index an Embedding of this size

    @property
    def variables(self) -> list[ops.Weight]:
        """Weights held as variables (get_weights/set_weights), in order."""
        return [w for w in self.weights if not w.frozen]

    @property
    def trainable(self) -> list[ops.Weight]:
        """The weights the optimizer updates, in order (a subset of ``variables``)."""
        return [w for w in self.weights if w.trainable]

    @property
    def frozen_parameters(self) -> int:
        return sum(w.value.size for w in self.weights if w.frozen)

    @property
    def final_step(self) -> Step | None:
        """The step producing the output, looking through identities (a rate-0 Dropout); None if none."""
        producers = {step.output: step for step in self.steps}
        step = producers.get(self.output)
        while step is not None and type(step.op) is ops.Op:
            step = producers.get(step.inputs[0])
        return step


def _inner_graph(model: Any) -> Any:
    return getattr(model, "_functional", None) or model


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "_nodes_by_depth") or hasattr(layer, "_functional")


class _Builder:
    def __init__(self, frozen_layers: set[str], allow_flex: bool) -> None:
        self.frozen_layers, self.allow_flex = frozen_layers, allow_flex
        self.weights_by_layer: dict[int, dict[str, ops.Weight]] = {}
        self.names: set[str] = set()
        self.next_tensor = 1

    def new_tensor(self) -> int:
        self.next_tensor += 1
        return self.next_tensor - 1

    def layer_weights(self, layer: Any, frozen: bool, by_path: bool) -> dict[str, ops.Weight]:
        if id(layer) not in self.weights_by_layer:
            key = (lambda path: path) if by_path else _role
            self.weights_by_layer[id(layer)] = {key(v.path): self._weight(layer, v, frozen) for v in layer.weights}
        return self.weights_by_layer[id(layer)]

    def _weight(self, layer: Any, variable: Any, frozen: bool) -> ops.Weight:
        base = re.sub(r"\W", "_", f"{layer.name}_{variable.path.split('/')[-1]}")
        base = base if re.match(r"[A-Za-z_]", base) else f"w_{base}"
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        value = np.asarray(variable.numpy(), dtype=np.float32)
        return ops.Weight(name, variable.path, value, trainable=bool(variable.trainable) and not frozen, frozen=frozen)


def _role(path: str) -> str:
    last = path.split("/")[-1]
    return "kernel" if last == "depthwise_kernel" else last


def read_graph(model: Any, freeze_until: str | None = None, allow_flex: bool = False) -> ModelGraph:
    """Flatten ``model`` into a ModelGraph; layers up to and including ``freeze_until`` are frozen.

    ``allow_flex`` lets layers without a builtin-only implementation fall back to TensorFlow ops.
    """
    if not getattr(model, "built", False) or getattr(model, "inputs", None) is None:
        raise ConversionError("the model is not built: give it an Input (or call it once) before saving")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"the model must have one input and one output, it has {len(model.inputs)} and {len(model.outputs)}")
    shape = tuple(model.inputs[0].shape[1:])
    if any(dim is None for dim in shape):
        raise ConversionError(f"the model input shape {shape} must be fully known apart from the batch axis")
    dtype = "int32" if "int" in str(model.inputs[0].dtype) else "float32"
    if any(dim is None for dim in model.outputs[0].shape[1:]):
        raise ConversionError(f"the model output shape {tuple(model.outputs[0].shape)} must be fully known apart from the batch axis")
    output_shape = tuple(int(d) for d in model.outputs[0].shape[1:])
    graph = ModelGraph(tuple(int(d) for d in shape), dtype, output_shape)
    builder = _Builder(_frozen_layers(model, freeze_until), allow_flex)
    graph.output = _walk(model, [0], graph, builder, frozen_outer=False)[0]
    graph.weights = [w for ws in builder.weights_by_layer.values() for w in ws.values()]
    return graph


def _frozen_layers(model: Any, freeze_until: str | None) -> set[str]:
    names = [layer.name for layer in model.layers]
    if freeze_until is None:
        return set()
    if freeze_until not in names:
        raise ConversionError(f"--freeze-until: the model has no layer {freeze_until!r}; its layers: {', '.join(names)}")
    return set(names[: names.index(freeze_until) + 1])


def _walk(model: Any, input_ids: list[int], graph: ModelGraph, builder: _Builder, frozen_outer: bool) -> list[int]:
    inner = _inner_graph(model)
    tensor_ids = {id(t): tid for t, tid in zip(inner.inputs, input_ids)}
    for depth in sorted(inner._nodes_by_depth, reverse=True):
        for node in inner._nodes_by_depth[depth]:
            layer = node.operation
            if node.is_input or not node.output_tensors:
                continue
            inputs = [tensor_ids[id(t)] for t in node.input_tensors]
            frozen = frozen_outer or layer.name in builder.frozen_layers or not layer.trainable
            if _is_model(layer):
                outputs = _walk(layer, inputs, graph, builder, frozen)
            else:
                outputs = [_add_layer(layer, inputs, graph, builder, frozen, tuple(node.output_tensors[0].shape))]
            tensor_ids.update({id(t): out for t, out in zip(node.output_tensors, outputs)})
    return [tensor_ids[id(t)] for t in inner.outputs]


def _add_layer(layer: Any, inputs: list[int], graph: ModelGraph, builder: _Builder, frozen: bool, shape: tuple) -> int:
    chain = layer_ops(layer, builder.allow_flex)
    weights = builder.layer_weights(layer, frozen, by_path=bool(chain) and getattr(chain[0], "weights_by_path", False))
    if weights:
        chain[0].weights = weights
    if isinstance(chain[0] if chain else None, ops.Embedding):
        graph.vocabulary_size = int(layer.get_config()["input_dim"])
    current = inputs
    for op in chain:
        output = builder.new_tensor()
        graph.steps.append(Step(op, tuple(current), output, layer.name))
        current = [output]
    graph.layers.append(LayerInfo(layer.name, type(layer).__name__, shape, sum(w.value.size for w in weights.values()), frozen))
    return current[0] if chain else inputs[0]
