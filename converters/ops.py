"""Differentiable building blocks with hand-written, builtin-only backward passes.

Each op maps input tensors and its parameters to one output (``forward``) and maps the output
gradient back to input and parameter gradients (``backward``). No TensorFlow autodiff is used,
so no gradient op (ReluGrad, MaxPoolGrad, BroadcastGradientArgs, ...) reaches the graph; all
shapes are static. Unused gradients are pruned by the graph compiler.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters import spatial
from converters.spatial import Window

Grads = tuple[list[Any], dict[str, Any]]


@dataclass
class Weight:
    """A Keras weight as the converted model holds it."""

    name: str
    keras_path: str
    value: np.ndarray
    trainable: bool  # updated by the optimizer
    frozen: bool = False  # baked into the graph as a constant


@dataclass
class Op:
    """Base op: identity with no parameters."""

    weights: dict[str, Weight] = field(default_factory=dict)

    def forward(self, tf: Any, p: dict[str, Any], xs: list[Any]) -> Any:
        return xs[0]

    def backward(self, tf: Any, p: dict[str, Any], xs: list[Any], y: Any, dy: Any) -> Grads:
        return [dy], {}

    def noise(self, tf: Any, xs: list[Any], enabled: Any) -> dict[str, Any]:
        """Random parameters drawn once per train step and given to forward and backward (none here)."""
        return {}


def _sum_to_last(tf: Any, t: Any) -> Any:
    return tf.reduce_sum(t, axis=list(range(len(t.shape) - 1)))


@dataclass
class Activation(Op):
    """Elementwise activation (or softmax over the last axis)."""

    name: str = "linear"
    alpha: float = 0.2
    max_value: float | None = None

    def forward(self, tf, p, xs):
        x = xs[0]
        return {
            "linear": lambda: x,
            "relu": lambda: tf.nn.relu(x) if self.max_value is None else tf.minimum(tf.nn.relu(x), self.max_value),
            "relu6": lambda: tf.nn.relu6(x),
            "leaky_relu": lambda: tf.nn.leaky_relu(x, alpha=self.alpha),
            "sigmoid": lambda: tf.sigmoid(x),
            "tanh": lambda: tf.tanh(x),
            "softmax": lambda: tf.nn.softmax(x, axis=-1),
        }[self.name]()

    def backward(self, tf, p, xs, y, dy):
        x, zero = xs[0], tf.zeros_like(dy)
        upper = 6.0 if self.name == "relu6" else self.max_value
        grads = {
            "linear": lambda: dy,
            "relu": lambda: dy * tf.sign(y) if upper is None else tf.where(tf.logical_and(x > 0, x < upper), dy, zero),
            "leaky_relu": lambda: tf.where(x > 0, dy, dy * self.alpha),
            "sigmoid": lambda: dy * y * (1.0 - y),
            "tanh": lambda: dy * (1.0 - y * y),
            "softmax": lambda: y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True)),
        }
        grads["relu6"] = grads["relu"]
        return [grads[self.name]()], {}


@dataclass
class Dense(Op):
    """x @ kernel + bias over the last axis (inputs of any rank)."""

    def forward(self, tf, p, xs):
        x = xs[0]
        flat = tf.reshape(x, [-1, x.shape[-1]])
        out = tf.matmul(flat, p["kernel"])
        if "bias" in p:
            out = out + p["bias"]
        return tf.reshape(out, [*x.shape[:-1], out.shape[-1]])

    def backward(self, tf, p, xs, y, dy):
        x = xs[0]
        flat_x, flat_dy = tf.reshape(x, [-1, x.shape[-1]]), tf.reshape(dy, [-1, dy.shape[-1]])
        grads = {"kernel": tf.matmul(flat_x, flat_dy, transpose_a=True)}
        if "bias" in p:
            grads["bias"] = tf.reduce_sum(flat_dy, axis=0)
        # A rank-3 product keeps BATCH_MATMUL (fast with a variable operand) instead of FULLY_CONNECTED.
        dx = tf.matmul(tf.expand_dims(flat_dy, 0), tf.expand_dims(p["kernel"], 0), transpose_b=True)
        return [tf.reshape(dx, x.shape)], grads


@dataclass
class Conv(Op):
    """Conv2D (``depthwise=False``) or DepthwiseConv2D, NHWC, with optional bias."""

    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    dilation: tuple[int, int] = (1, 1)
    depthwise: bool = False

    def windows(self, x: Any, kernel_shape: tuple[int, ...]) -> tuple[Window, Window]:
        return tuple(Window(kernel_shape[a], self.strides[a], self.padding, x.shape[1 + a], self.dilation[a]) for a in (0, 1))

    @property
    def constant_kernel(self) -> bool:
        """True when the kernel is frozen into the graph as a constant."""
        kernel = self.weights.get("kernel")
        return kernel is not None and kernel.frozen

    def forward(self, tf, p, xs):
        rows, cols = self.windows(xs[0], p["kernel"].shape)
        if self.depthwise:
            out = spatial.depthwise(tf, xs[0], p["kernel"], rows, cols)
        else:
            out = spatial.conv2d(tf, xs[0], p["kernel"], rows, cols, self.constant_kernel)
        return out + p["bias"] if "bias" in p else out

    def backward(self, tf, p, xs, y, dy):
        x, kernel = xs[0], p["kernel"]
        rows, cols = self.windows(x, kernel.shape)
        if self.depthwise:
            grads = {"kernel": spatial.depthwise_kernel_grad(tf, x, dy, rows, cols, kernel.shape[3])}
            dx = spatial.depthwise_input_grad(tf, dy, kernel, rows, cols)
        else:
            grads = {"kernel": spatial.conv2d_kernel_grad(tf, x, dy, rows, cols)}
            dx = spatial.conv2d_input_grad(tf, dy, kernel, rows, cols, self.constant_kernel)
        if "bias" in p:
            grads["bias"] = _sum_to_last(tf, dy)
        return [dx], grads


@dataclass
class Pool(Op):
    """MaxPooling2D / AveragePooling2D (averages exclude padding, as in TensorFlow)."""

    kind: str = "max"
    size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)
    padding: str = "valid"

    def windows(self, x: Any) -> tuple[Window, Window]:
        return tuple(Window(self.size[a], self.strides[a], self.padding, x.shape[1 + a]) for a in (0, 1))

    def forward(self, tf, p, xs):
        pool = tf.nn.max_pool2d if self.kind == "max" else tf.nn.avg_pool2d
        return pool(xs[0], ksize=list(self.size), strides=list(self.strides), padding=self.padding.upper())

    def backward(self, tf, p, xs, y, dy):
        rows, cols = self.windows(xs[0])
        if spatial.tiles_exactly(rows, cols):
            return [self._tiled_backward(tf, xs[0], y, dy, rows.size)], {}
        if self.kind == "avg":
            dy = dy / self._window_counts(rows, cols)
            parts = [(i, j, dy) for i in range(rows.size) for j in range(cols.size)]
        else:
            parts = self._first_max_parts(tf, xs[0], y, dy, rows, cols)
        return [spatial.scatter_windows(tf, parts, rows, cols)], {}

    def _tiled_backward(self, tf, x, y, dy, block):
        """Non-overlapping windows: work on [windows, block², C] blocks (space_to_depth)."""
        windows, channels = dy.shape[0] * dy.shape[1] * dy.shape[2], dy.shape[3]
        dy = tf.reshape(dy, [windows, 1, channels])
        if self.kind == "avg":
            grad = dy * np.full([1, block * block, 1], 1.0 / (block * block), np.float32)
        else:
            hits = tf.cast(tf.equal(spatial.window_blocks(tf, x, block), tf.reshape(y, [windows, 1, channels])), tf.float32)
            first = hits * tf.cast(tf.equal(tf.cumsum(hits, axis=1), 1.0), tf.float32)
            grad = first * dy
        return spatial.from_window_blocks(tf, grad, x.shape, block)

    @staticmethod
    def _window_counts(rows: Window, cols: Window) -> np.ndarray:
        def counts(w: Window) -> np.ndarray:
            starts = np.arange(w.out_len) * w.stride - w.pad_before
            return np.minimum(starts + w.size, w.in_len) - np.maximum(starts, 0)

        return np.outer(counts(rows), counts(cols)).astype(np.float32)[None, :, :, None]

    @staticmethod
    def _first_max_parts(tf, x, y, dy, rows, cols):
        """Route each output's gradient to the first input (row-major) that equals the max."""
        x_used = spatial.pad_input(tf, x, rows, cols, value=float(np.finfo(np.float32).min))
        taken, parts = None, []
        for i, j, window in spatial.window_slices(tf, x_used, rows, cols):
            hit = tf.cast(tf.equal(window, y), tf.float32)
            hit = hit if taken is None else hit * (1.0 - taken)
            taken = hit if taken is None else taken + hit
            parts.append((i, j, dy * hit))
        return parts


@dataclass
class GlobalAveragePool(Op):
    keepdims: bool = False

    def forward(self, tf, p, xs):
        return tf.reduce_mean(xs[0], axis=[1, 2], keepdims=self.keepdims)

    def backward(self, tf, p, xs, y, dy):
        b, h, w, c = xs[0].shape
        spread = np.full([1, h, w, 1], 1.0 / (h * w), np.float32)
        return [tf.reshape(dy, [b, 1, 1, c]) * spread], {}


@dataclass
class Reshape(Op):
    """Flatten / Reshape to a static per-example shape."""

    target: tuple[int, ...] = ()

    def forward(self, tf, p, xs):
        return tf.reshape(xs[0], [xs[0].shape[0], *self.target])

    def backward(self, tf, p, xs, y, dy):
        return [tf.reshape(dy, xs[0].shape)], {}


@dataclass
class ScaleShift(Op):
    """BatchNormalization with frozen statistics: x * scale + shift over the last axis."""

    epsilon: float = 1e-3

    def _inv(self, tf, p):
        inv = tf.math.rsqrt(p["moving_variance"] + self.epsilon)
        return inv * p["gamma"] if "gamma" in p else inv

    def forward(self, tf, p, xs):
        inv = self._inv(tf, p)
        shift = -p["moving_mean"] * inv + (p["beta"] if "beta" in p else 0.0)
        return xs[0] * inv + shift

    def backward(self, tf, p, xs, y, dy):
        grads = {"beta": _sum_to_last(tf, dy)}
        normalized = (xs[0] - p["moving_mean"]) * tf.math.rsqrt(p["moving_variance"] + self.epsilon)
        grads["gamma"] = _sum_to_last(tf, dy * normalized)
        return [dy * self._inv(tf, p)], grads


@dataclass
class Dropout(Op):
    """Inverted dropout: multiplies by the ``keep`` parameter that the train signature draws each
    step (``noise``); the identity without one (evaluate, infer)."""

    rate: float = 0.5
    noise_shape: tuple[int | None, ...] | None = None

    def noise(self, tf, xs, enabled):
        """``keep``: per element (or per ``noise_shape`` entry, broadcast) 1/(1 − r) with probability
        1 − r and 0 otherwise, r = rate · enabled; with ``enabled`` 0.0 it is exactly 1."""
        shape = xs[0].shape if self.noise_shape is None else [n or d for n, d in zip(self.noise_shape, xs[0].shape)]
        rate = enabled * self.rate
        # Seeds 0, 0: the interpreter seeds the generator afresh for each instance (RANDOM_UNIFORM).
        uniform = tf.raw_ops.RandomUniform(shape=list(shape), dtype=tf.float32, seed=0, seed2=0)
        return {"keep": tf.cast(uniform >= rate, tf.float32) / (1.0 - rate)}

    def forward(self, tf, p, xs):
        return xs[0] * p["keep"] if "keep" in p else xs[0]

    def backward(self, tf, p, xs, y, dy):
        return [dy * p["keep"] if "keep" in p else dy], {}


@dataclass
class Embedding(Op):
    """Lookup rows of ``embeddings`` by integer ids; the ids get no gradient."""

    def forward(self, tf, p, xs):
        return tf.gather(p["embeddings"], xs[0])

    def backward(self, tf, p, xs, y, dy):
        vocab, dim = p["embeddings"].shape
        one_hot = tf.one_hot(tf.reshape(xs[0], [-1]), vocab, dtype=tf.float32)
        return [None], {"embeddings": tf.matmul(one_hot, tf.reshape(dy, [-1, dim]), transpose_a=True)}


@dataclass
class Rescale(Op):
    scale: Any = 1.0
    offset: Any = 0.0

    def forward(self, tf, p, xs):
        return xs[0] * np.float32(self.scale) + np.float32(self.offset)

    def backward(self, tf, p, xs, y, dy):
        return [dy * np.float32(self.scale)], {}


@dataclass
class Add(Op):
    def forward(self, tf, p, xs):
        return tf.add_n(xs)

    def backward(self, tf, p, xs, y, dy):
        return [dy for _ in xs], {}


@dataclass
class Concatenate(Op):
    axis: int = -1

    def forward(self, tf, p, xs):
        return tf.concat(xs, axis=self.axis)

    def backward(self, tf, p, xs, y, dy):
        axis = self.axis % len(dy.shape)
        sizes = [x.shape[axis] for x in xs]
        return list(tf.split(dy, sizes, axis=axis)), {}


@dataclass
class KerasCall(Op):
    """Fallback for layers without a builtin-only implementation, used only when Flex ops are
    allowed: the Keras layer's own ``stateless_call``, differentiated by TensorFlow."""

    layer: Any = None
    weights_by_path: bool = True

    def forward(self, tf, p, xs):
        trainable = [p[v.path] for v in self.layer.trainable_variables]
        non_trainable = [p[v.path] for v in self.layer.non_trainable_variables]
        kwargs = {"training": False} if "training" in inspect.signature(self.layer.call).parameters else {}
        out, _ = self.layer.stateless_call(trainable, non_trainable, *xs, **kwargs)
        return out

    def backward(self, tf, p, xs, y, dy):
        floats = [x for x in xs if x.dtype.is_floating]
        with tf.GradientTape() as tape:
            tape.watch([*floats, *p.values()])
            out = self.forward(tf, p, xs)
        grads = tape.gradient(out, [*floats, *p.values()], output_gradients=dy)
        by_input = iter(grads[: len(floats)])
        dxs = [next(by_input) if x.dtype.is_floating else None for x in xs]
        return dxs, dict(zip(p, grads[len(floats):]))
