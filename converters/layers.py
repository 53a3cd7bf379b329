"""Keras layers → chains of builtin-safe ops (see ``converters.ops``), read from layer configs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from converters import ops
from converters.errors import UnsupportedLayerError

ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax")
LeafBuilder = Callable[[Any, dict], list[ops.Op]]


def _activation(layer: Any, name: Any, **settings: Any) -> list[ops.Op]:
    if name is None or name == "linear":
        return []
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UnsupportedLayerError(
            f"layer {layer.name!r}: activation {name!r} is not supported; supported: {', '.join(ACTIVATIONS)} "
            "(or pass --allow-flex)")
    return [ops.Activation(name=name, **settings)]


def _check(layer: Any, ok: bool, problem: str) -> None:
    if not ok:
        raise UnsupportedLayerError(f"layer {layer.name!r} ({type(layer).__name__}): {problem}")


def _activation_name(config: dict) -> Any:
    act = config.get("activation")
    return act.get("config", {}).get("name", act.get("class_name")) if isinstance(act, dict) else act


def _dense(layer, config):
    return [ops.Dense(), *_activation(layer, _activation_name(config))]


def _conv(layer, config, depthwise: bool):
    _check(layer, config.get("data_format", "channels_last") == "channels_last", "only channels_last is supported")
    _check(layer, config.get("groups", 1) == 1, "grouped convolution is not supported")
    _check(layer, config["padding"] in ("valid", "same"), f"padding {config['padding']!r} is not supported")
    _check(layer, not depthwise or tuple(config["dilation_rate"]) == (1, 1), "dilation_rate must be 1 for depthwise convolution")
    _check(layer, not depthwise or len(set(config["strides"])) == 1, "depthwise strides must be equal along both axes")
    conv = ops.Conv(strides=tuple(config["strides"]), padding=config["padding"],
                    dilation=tuple(config["dilation_rate"]), depthwise=depthwise)
    return [conv, *_activation(layer, _activation_name(config))]


def _pool(layer, config, kind: str):
    _check(layer, config.get("data_format", "channels_last") == "channels_last", "only channels_last is supported")
    strides = config.get("strides") or config["pool_size"]
    return [ops.Pool(kind=kind, size=tuple(config["pool_size"]), strides=tuple(strides), padding=config["padding"])]


def _gap(layer, config):
    _check(layer, config.get("data_format", "channels_last") == "channels_last", "only channels_last is supported")
    return [ops.GlobalAveragePool(keepdims=bool(config.get("keepdims", False)))]


def _reshape(layer, config):
    return [ops.Reshape(target=tuple(int(d) for d in layer.output.shape[1:]))]


def _batch_norm(layer, config):
    _check(layer, config["axis"] in (-1, len(layer.input.shape) - 1), "only normalisation over the last axis is supported")
    return [ops.ScaleShift(epsilon=float(config["epsilon"]))]


def _dropout(layer, config):
    rate = float(config["rate"])
    if not rate:
        return [ops.Op()]
    noise_shape = config.get("noise_shape")
    return [ops.Dropout(rate=rate, noise_shape=None if noise_shape is None else tuple(noise_shape))]


def _embedding(layer, config):
    _check(layer, not config.get("mask_zero"), "mask_zero=True is not supported")
    return [ops.Embedding()]


def _relu_layer(layer, config):
    _check(layer, not config.get("threshold"), "a non-zero threshold is not supported")
    slope = float(config.get("negative_slope") or 0.0)
    if slope:
        _check(layer, config.get("max_value") is None, "max_value with negative_slope is not supported")
        return [ops.Activation(name="leaky_relu", alpha=slope)]
    return [ops.Activation(name="relu", max_value=config.get("max_value"))]


def _concatenate(layer, config):
    _check(layer, config["axis"] not in (0, -len(layer.output.shape)), "concatenation along the batch axis is not supported")
    return [ops.Concatenate(axis=int(config["axis"]))]


def _add(layer, config):
    shapes = {tuple(t.shape[1:]) for t in layer.input}
    _check(layer, len(shapes) == 1, f"inputs must have the same shape (no broadcasting), got {sorted(shapes)}")
    return [ops.Add()]


def _softmax(layer, config):
    _check(layer, config.get("axis", -1) in (-1, len(layer.output.shape) - 1), "softmax must be over the last axis")
    return [ops.Activation(name="softmax")]


LAYER_BUILDERS: dict[str, LeafBuilder] = {
    "Activation": lambda layer, c: _activation(layer, _activation_name(c)),
    "Add": _add,
    "AveragePooling2D": lambda layer, c: _pool(layer, c, "avg"),
    "BatchNormalization": _batch_norm,
    "Concatenate": _concatenate,
    "Conv2D": lambda layer, c: _conv(layer, c, depthwise=False),
    "Dense": _dense,
    "DepthwiseConv2D": lambda layer, c: _conv(layer, c, depthwise=True),
    "Dropout": _dropout,
    "Embedding": _embedding,
    "Flatten": _reshape,
    "GlobalAveragePooling2D": _gap,
    "InputLayer": lambda layer, c: [],
    "LeakyReLU": lambda layer, c: [ops.Activation(name="leaky_relu", alpha=float(c.get("negative_slope", 0.3)))],
    "MaxPooling2D": lambda layer, c: _pool(layer, c, "max"),
    "ReLU": _relu_layer,
    "Rescaling": lambda layer, c: [ops.Rescale(scale=c["scale"], offset=c["offset"])],
    "Reshape": _reshape,
    "Softmax": _softmax,
}
SUPPORTED_LAYERS = tuple(sorted(name for name in LAYER_BUILDERS if name != "InputLayer"))


def layer_ops(layer: Any, allow_flex: bool = False) -> list[ops.Op]:
    """The op chain for one Keras layer; raises UnsupportedLayerError naming what is supported.

    With ``allow_flex``, a layer that has no builtin-only implementation falls back to its own
    Keras call differentiated by TensorFlow, which may need Flex ops (the op audit lists them).
    Regularizers and constraints are refused either way.
    """
    config = layer.get_config()
    extras = sorted(key for key, value in config.items() if key.endswith(("_regularizer", "_constraint")) and value)
    _check(layer, not extras, f"{', '.join(extras)} {'is' if len(extras) == 1 else 'are'} not supported "
                              "(the on-device step optimizes the loss alone)")
    kind = type(layer).__name__
    try:
        if kind not in LAYER_BUILDERS:
            raise UnsupportedLayerError(f"layer {layer.name!r} of type {kind} is not supported; "
                                        f"supported layers: {', '.join(SUPPORTED_LAYERS)} (or pass --allow-flex)")
        return LAYER_BUILDERS[kind](layer, config)
    except UnsupportedLayerError:
        if not allow_flex:
            raise
        return [ops.KerasCall(layer=layer)]
