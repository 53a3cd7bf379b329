"""Masked-mean losses with closed-form gradients w.r.t. the model's logits or outputs.

Cross-entropies are computed from logits (a final softmax/sigmoid is folded into the loss, as
Keras does in graph mode), with a hand-written log-softmax instead of
SparseSoftmaxCrossEntropyWithLogits, which has no builtin lowering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from converters.errors import ConversionError

LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse")
ALIASES = {"mean_squared_error": "mse"}
FOLDED_ACTIVATION = {"sparse_categorical_crossentropy": "softmax", "categorical_crossentropy": "softmax",
                     "binary_crossentropy": "sigmoid"}


@dataclass(frozen=True)
class Loss:
    """A loss by Keras name; ``from_logits`` is False when the model ends in the folded activation."""

    name: str
    from_logits: bool
    num_outputs: int

    @property
    def task(self) -> str:
        return {"binary_crossentropy": "binary", "mse": "regression"}.get(self.name, "classification")

    def label_spec(self, batch: int, output_shape: tuple[int, ...]) -> tuple[tuple[int, ...], str]:
        """(shape, dtype) of the ``y`` signature input."""
        if self.name == "sparse_categorical_crossentropy":
            return (batch,), "int32"
        return (batch, *output_shape), "float32"

    def per_row(self, tf: Any, z: Any, y: Any) -> tuple[Any, Any]:
        """(loss per row [B], d loss_row / d z) for logits (or outputs, for mse) ``z``."""
        return getattr(self, "_" + self.name)(tf, tf.reshape(z, [z.shape[0], -1]), y)

    def correct(self, tf: Any, z: Any, y: Any) -> Any | None:
        """Per-row correctness in [0, 1] (None for regression)."""
        z = tf.reshape(z, [z.shape[0], -1])
        if self.name == "sparse_categorical_crossentropy":
            return tf.cast(tf.equal(tf.argmax(z, axis=-1, output_type=tf.int32), y), tf.float32)
        if self.name == "categorical_crossentropy":
            predicted, expected = tf.argmax(z, -1, output_type=tf.int32), tf.argmax(y, -1, output_type=tf.int32)
            return tf.cast(tf.equal(predicted, expected), tf.float32)
        if self.name == "binary_crossentropy":
            hits = tf.cast(tf.equal(z > 0.0, tf.reshape(y, z.shape) > 0.5), tf.float32)
            return tf.reduce_mean(hits, axis=-1)
        return None

    @staticmethod
    def _log_softmax(tf, z):
        shifted = z - tf.reduce_max(z, axis=-1, keepdims=True)
        return shifted - tf.math.log(tf.reduce_sum(tf.exp(shifted), axis=-1, keepdims=True))

    def _sparse_categorical_crossentropy(self, tf, z, y):
        return self._categorical_crossentropy(tf, z, tf.one_hot(y, z.shape[-1], dtype=tf.float32))

    def _categorical_crossentropy(self, tf, z, y):
        log_probs = self._log_softmax(tf, z)
        total = tf.reduce_sum(y, axis=-1, keepdims=True)
        return -tf.reduce_sum(y * log_probs, axis=-1), tf.exp(log_probs) * total - y

    def _binary_crossentropy(self, tf, z, y):
        y = tf.reshape(y, z.shape)
        elementwise = tf.nn.relu(z) - z * y + tf.math.log(1.0 + tf.exp(-tf.abs(z)))
        return tf.reduce_mean(elementwise, axis=-1), (tf.sigmoid(z) - y) / z.shape[-1]

    def _mse(self, tf, z, y):
        diff = z - tf.reshape(y, z.shape)
        return tf.reduce_mean(diff * diff, axis=-1), diff * (2.0 / z.shape[-1])


def canonical_loss(name: str) -> str:
    """The supported loss ``name`` stands for (any case, aliases resolved); ConversionError if none."""
    canonical = ALIASES.get(name.lower(), name.lower())
    if canonical not in LOSSES:
        raise ConversionError(f"loss {name!r} is not supported; supported losses: {', '.join(LOSSES)}")
    return canonical


def make_loss(name: str, output_shape: tuple[int, ...], final_activation: str | None) -> Loss:
    """Validate the loss against the model's output; raise ConversionError naming the mismatch."""
    name = canonical_loss(name)
    outputs = math.prod(output_shape)
    if name in ("sparse_categorical_crossentropy", "categorical_crossentropy") and (len(output_shape) != 1 or outputs < 2):
        raise ConversionError(f"loss {name} needs a model output of shape (batch, classes) with at least 2 classes, "
                              f"the model's output is (batch, {', '.join(map(str, output_shape))})")
    folded = FOLDED_ACTIVATION.get(name)
    if folded is None:  # mse
        return Loss(name, from_logits=True, num_outputs=outputs)
    if final_activation not in (None, "linear", folded):
        raise ConversionError(f"loss {name} needs the model to end in logits or a {folded}, it ends in {final_activation}")
    return Loss(name, from_logits=final_activation != folded, num_outputs=outputs)
