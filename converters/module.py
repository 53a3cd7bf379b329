"""The trainable ``tf.Module``: plain tf.Variables and the signatures of the model contract.

train / evaluate / infer run the graph's forward pass and, for train, its hand-written backward
pass and the optimizer update; get/set functions move weights and optimizer state by name.
Signatures that need no data take the one-element placeholder input ``unused``: LiteRT's Java API
cannot call a signature without inputs.
"""

from __future__ import annotations

from typing import Any

from converters import ops
from converters.graph import ModelGraph, Step
from converters.losses import Loss
from converters.optimizers import Optimizer
from edge_sdk.model import PLACEHOLDER_INPUT


class TrainableModule:
    """Holds the variables and builds the concrete functions exported as signatures."""

    def __init__(self, tf: Any, graph: ModelGraph, loss: Loss, optimizer: Optimizer, batch_size: int) -> None:
        self.tf, self.graph, self.loss, self.optimizer, self.batch = tf, graph, loss, optimizer, batch_size
        self.module = tf.Module()
        self.module.weights = {w.name: tf.Variable(w.value, name=w.name) for w in graph.variables}
        self.constants = {w.name: tf.constant(w.value) for w in graph.weights if w.frozen}
        self.module.state = self._state_variables()
        self.module.learning_rate = tf.Variable(optimizer.learning_rate, dtype=tf.float32, name="learning_rate")
        # Written by the signatures that take the placeholder, so the converter keeps that input; never read.
        self.module.placeholder = tf.Variable(tf.zeros([1]), name="placeholder")
        has_dropout = any(isinstance(step.op, ops.Dropout) for step in graph.steps)
        self.module.dropout = tf.Variable(1.0, name="dropout") if has_dropout else None  # 1.0: train applies it
        self.logits = self._loss_input()

    def _state_variables(self) -> dict[str, Any]:
        shapes = self.optimizer.state_shapes({w.name: w.value.shape for w in self.graph.trainable})
        return {name: self.tf.Variable(self.tf.zeros(shape), name=name) for name, shape in shapes.items()}

    def _loss_input(self) -> int:
        """The tensor the loss reads: the final activation's input when the loss folds it in."""
        if self.loss.from_logits:
            return self.graph.output
        return self.graph.final_step.inputs[0]

    # --- graph passes -------------------------------------------------------------------------

    def _values(self) -> dict[str, Any]:
        values = {name: var.read_value() for name, var in self.module.weights.items()}
        return {**values, **self.constants}

    def _params(self, step: Step, values: dict[str, Any], draws: dict[int, Any] | None) -> dict[str, Any]:
        params = {role: values[w.name] for role, w in step.op.weights.items()}
        return {**params, **draws[step.output]} if draws else params

    def forward(self, values: dict[str, Any], x: Any, draws: dict[int, Any] | None = None) -> dict[int, Any]:
        """Every step's output by tensor id (0 is x). ``draws`` (train only) receives each step's
        random parameters (Dropout masks), drawn here and reused by ``backward``."""
        tensors = {0: x}
        enabled = None if draws is None else self.module.dropout.read_value()
        for step in self.graph.steps:
            inputs = [tensors[i] for i in step.inputs]
            if draws is not None:
                draws[step.output] = step.op.noise(self.tf, inputs, enabled)
            tensors[step.output] = step.op.forward(self.tf, self._params(step, values, draws), inputs)
        return tensors

    def backward(self, values: dict[str, Any], tensors: dict[int, Any], seed: Any,
                 draws: dict[int, Any] | None = None) -> dict[str, Any]:
        """Gradients of the trainable weights, given d loss / d tensors[self.logits]."""
        pending, weight_grads = {self.logits: seed}, {}
        for step in reversed(self.graph.steps):
            if step.output not in pending:
                continue
            inputs = [tensors[i] for i in step.inputs]
            params = self._params(step, values, draws)
            dxs, grads = step.op.backward(self.tf, params, inputs, tensors[step.output], pending.pop(step.output))
            for role, grad in grads.items():
                weight = step.op.weights.get(role)
                if weight is not None and weight.trainable:
                    _accumulate(weight_grads, weight.name, grad)
            for tensor_id, dx in zip(step.inputs, dxs):
                if dx is not None and tensors[tensor_id].dtype.is_floating:
                    _accumulate(pending, tensor_id, dx)
        return weight_grads

    def _masked_loss(self, tensors: dict[int, Any], y: Any, mask: Any) -> tuple[Any, Any]:
        """(masked-mean loss, its gradient w.r.t. the loss input)."""
        tf = self.tf
        per_row, d_row = self.loss.per_row(tf, tensors[self.logits], y)
        row_weight = mask / tf.maximum(tf.reduce_sum(mask), 1.0)
        loss = tf.reduce_sum(per_row * row_weight)
        seed = tf.reshape(d_row * tf.reshape(row_weight, [self.batch, 1]), tensors[self.logits].shape)
        return loss, seed

    # --- signatures -----------------------------------------------------------------------------

    def train(self, x: Any, y: Any, mask: Any) -> dict[str, Any]:
        values = self._values()
        draws = None if self.module.dropout is None else {}
        tensors = self.forward(values, x, draws)
        loss, seed = self._masked_loss(tensors, y, mask)
        grads = self.backward(values, tensors, seed, draws)
        self.optimizer.apply(self.tf, self.module.learning_rate.read_value(), self.module.weights, grads, self.module.state)
        return {"loss": loss}

    def evaluate(self, x: Any, y: Any, mask: Any) -> dict[str, Any]:
        tensors = self.forward(self._values(), x)
        loss, _ = self._masked_loss(tensors, y, mask)
        correct = self.loss.correct(self.tf, tensors[self.logits], y)
        if correct is None:
            return {"loss": loss}
        return {"loss": loss, "correct": self.tf.reduce_sum(correct * mask)}

    def infer(self, x: Any) -> dict[str, Any]:
        return {"output": self.forward(self._values(), x)[self.graph.output]}

    def signatures(self) -> dict[str, Any]:
        """Concrete functions by signature key (state functions only where the optimizer has state)."""
        tf, batch = self.tf, self.batch
        x = tf.TensorSpec([batch, *self.graph.input_shape], self.graph.input_dtype, name="x")
        y_shape, y_dtype = self.loss.label_spec(batch, self.graph.output_shape)
        y, mask = tf.TensorSpec(y_shape, y_dtype, name="y"), tf.TensorSpec([batch], tf.float32, name="mask")
        sink = self.module.placeholder
        functions = {
            "train": tf.function(self.train, input_signature=[x, y, mask]),
            "evaluate": tf.function(self.evaluate, input_signature=[x, y, mask]),
            "infer": tf.function(self.infer, input_signature=[x]),
            "get_weights": _getter(tf, self.module.weights, sink),
            "set_weights": _setter(tf, self.module.weights),
            "set_learning_rate": _setter(tf, {"learning_rate": self.module.learning_rate}),
        }
        if self.module.state:
            functions.update(get_optimizer_state=_getter(tf, self.module.state, sink),
                             set_optimizer_state=_setter(tf, self.module.state),
                             reset_optimizer=_resetter(tf, self.module.state, sink))
        if self.module.dropout is not None:
            functions["set_dropout"] = _setter(tf, {"enabled": self.module.dropout})
        return {name: fn.get_concrete_function() for name, fn in functions.items()}


def _accumulate(target: dict, key: Any, value: Any) -> None:
    target[key] = value if key not in target else target[key] + value


def _placeholder_spec(tf: Any) -> Any:
    return tf.TensorSpec([1], tf.float32, name=PLACEHOLDER_INPUT)


def _getter(tf: Any, variables: dict[str, Any], sink: Any) -> Any:
    def get(unused: Any) -> dict[str, Any]:
        sink.assign(unused)
        return {name: var.read_value() for name, var in variables.items()}

    return tf.function(get, input_signature=[_placeholder_spec(tf)])


def _setter(tf: Any, variables: dict[str, Any]) -> Any:
    names = list(variables)
    specs = [tf.TensorSpec(variables[n].shape, variables[n].dtype, name=n) for n in names]

    def assign(*tensors: Any) -> dict[str, Any]:
        for name, tensor in zip(names, tensors):
            variables[name].assign(tensor)
        return {"assigned": tf.constant(len(names), tf.int32)}

    return tf.function(assign, input_signature=specs)


def _resetter(tf: Any, variables: dict[str, Any], sink: Any) -> Any:
    def reset(unused: Any) -> dict[str, Any]:
        sink.assign(unused)
        for var in variables.values():
            var.assign(tf.zeros_like(var))
        return {"assigned": tf.constant(len(variables), tf.int32)}

    return tf.function(reset, input_signature=[_placeholder_spec(tf)])
