"""Hand-written backward passes against TensorFlow autodiff, over many shapes and settings.

These run in TensorFlow (no conversion), so they sweep configurations cheaply; the conversion
tests check that the same graphs give the same numbers in the TFLite interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from converters import ops  # noqa: E402


def autodiff(op: ops.Op, params: dict[str, np.ndarray], x: np.ndarray, dy_seed: int = 0):
    """(dx, param grads) from TF autodiff of op.forward, and from op.backward, for one random dy."""
    p = {k: tf.constant(v) for k, v in params.items()}
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch([xt, *p.values()])
        y = op.forward(tf, p, [xt])
    dy = tf.constant(np.random.default_rng(dy_seed).normal(size=y.shape).astype(np.float32))
    expected = tape.gradient(y, [xt, *p.values()], output_gradients=dy)
    dxs, grads = op.backward(tf, p, [xt], y, dy)
    return expected, [dxs[0], *(grads.get(k) for k in p)]


def assert_grads_match(op: ops.Op, params: dict[str, np.ndarray], x: np.ndarray) -> None:
    expected, got = autodiff(op, params, x)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-5)


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


CONV_SETTINGS = [  # (height, width, kernel, strides, padding, dilation)
    (7, 7, (3, 3), (1, 1), "same", (1, 1)),
    (8, 6, (3, 2), (2, 2), "same", (1, 1)),
    (9, 9, (3, 3), (2, 2), "valid", (1, 1)),
    (7, 8, (2, 3), (3, 2), "valid", (1, 1)),
    (8, 8, (3, 3), (1, 1), "same", (2, 2)),
    (10, 9, (3, 2), (1, 1), "valid", (2, 3)),
    (5, 5, (1, 1), (2, 2), "same", (1, 1)),
]


@pytest.mark.parametrize(("h", "w", "kernel", "strides", "padding", "dilation"), CONV_SETTINGS)
@pytest.mark.parametrize("frozen", [False, True])
def test_conv2d_backward(h, w, kernel, strides, padding, dilation, frozen) -> None:
    """Both forms: patches times kernel (variable kernel) and CONV_2D (kernel frozen as a constant)."""
    op = ops.Conv(strides=strides, padding=padding, dilation=dilation)
    params = {"kernel": rand(*kernel, 3, 4, seed=1), "bias": rand(4, seed=2)}
    op.weights = {"kernel": ops.Weight("k", "k", params["kernel"], trainable=not frozen, frozen=frozen)}
    assert op.constant_kernel is frozen
    assert_grads_match(op, params, rand(2, h, w, 3))


# The converter accepts depthwise convolutions with equal strides and no dilation.
DEPTHWISE_SETTINGS = [s for s in CONV_SETTINGS if s[3][0] == s[3][1] and s[5] == (1, 1)]


@pytest.mark.parametrize(("h", "w", "kernel", "strides", "padding", "dilation"), DEPTHWISE_SETTINGS)
@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_backward(h, w, kernel, strides, padding, dilation, multiplier) -> None:
    op = ops.Conv(strides=strides, padding=padding, dilation=dilation, depthwise=True)
    params = {"kernel": rand(*kernel, 2, multiplier, seed=1), "bias": rand(2 * multiplier, seed=2)}
    assert_grads_match(op, params, rand(2, h, w, 2))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("h", "w", "size", "strides", "padding"), [
    (8, 8, (2, 2), (2, 2), "valid"),
    (7, 9, (3, 3), (2, 2), "same"),
    (7, 7, (3, 2), (1, 2), "valid"),
    (5, 6, (2, 2), (3, 3), "same"),
])
def test_pool_backward(kind, h, w, size, strides, padding) -> None:
    assert_grads_match(ops.Pool(kind=kind, size=size, strides=strides, padding=padding), {}, rand(2, h, w, 3))


def test_max_pool_ties_go_to_the_first_maximum_like_tensorflow() -> None:
    x = np.zeros((1, 4, 4, 1), np.float32)  # every window is a four-way tie (as after a dead ReLU)
    x[0, 1, 1, 0] = x[0, 0, 1, 0] = 1.0  # and one two-way tie
    assert_grads_match(ops.Pool(kind="max"), {}, x)


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax", "linear"])
def test_activation_backward(name: str) -> None:
    assert_grads_match(ops.Activation(name=name, alpha=0.15), {}, rand(4, 7) * 4)


def test_capped_relu_backward() -> None:
    assert_grads_match(ops.Activation(name="relu", max_value=1.5), {}, rand(4, 7) * 3)


def test_dense_on_rank_three_inputs() -> None:
    assert_grads_match(ops.Dense(), {"kernel": rand(5, 3, seed=1), "bias": rand(3, seed=2)}, rand(2, 4, 5))


def test_batch_norm_with_frozen_statistics() -> None:
    params = {"gamma": rand(3, seed=1), "beta": rand(3, seed=2), "moving_mean": rand(3, seed=3),
              "moving_variance": np.abs(rand(3, seed=4)) + 0.5}
    op = ops.ScaleShift(epsilon=1e-3)
    expected, got = autodiff(op, params, rand(2, 4, 4, 3))
    for e, g in zip(expected[:3], got[:3]):  # x, gamma, beta: the statistics are never trained
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", [ops.GlobalAveragePool(), ops.GlobalAveragePool(keepdims=True), ops.Reshape(target=(48,)),
                                ops.Rescale(scale=0.5, offset=1.0)])
def test_shape_ops_backward(op: ops.Op) -> None:
    assert_grads_match(op, {}, rand(2, 4, 4, 3))


def test_dropout_backward_uses_the_forward_mask() -> None:
    keep = (np.random.default_rng(3).uniform(size=(4, 7)) >= 0.4).astype(np.float32) / 0.6
    x, dy = tf.constant(rand(4, 7)), tf.constant(rand(4, 7, seed=1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.Dropout(rate=0.4).forward(tf, {"keep": keep}, [x])
    expected = tape.gradient(y, x, output_gradients=dy)
    dxs, grads = ops.Dropout(rate=0.4).backward(tf, {"keep": keep}, [x], y, dy)
    np.testing.assert_array_equal(dxs[0].numpy(), expected.numpy())
    assert grads == {}


def test_dropout_is_the_identity_without_a_mask() -> None:
    op, x = ops.Dropout(rate=0.4), tf.constant(rand(4, 7))
    np.testing.assert_array_equal(op.forward(tf, {}, [x]).numpy(), x.numpy())
    np.testing.assert_array_equal(op.backward(tf, {}, [x], x, x)[0][0].numpy(), x.numpy())


def test_dropout_mask_follows_the_noise_shape_and_switch() -> None:
    op, x = ops.Dropout(rate=0.25, noise_shape=(None, 1, 5)), tf.constant(rand(64, 3, 5))
    keep = op.noise(tf, [x], tf.constant(1.0))["keep"].numpy()
    assert keep.shape == (64, 1, 5)  # broadcast along the axis the noise shape fixes to 1
    assert set(np.unique(keep)) == {0.0, np.float32(1 / 0.75)}
    np.testing.assert_array_equal(op.noise(tf, [x], tf.constant(0.0))["keep"].numpy(), np.ones((64, 1, 5), np.float32))
