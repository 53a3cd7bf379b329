"""Example data and Keras models shared by the demo, the benchmarks and the tests (converted
and cached by :mod:`fedlite.model_cache`).

The data is scikit-learn's bundled ``load_digits`` (no downloads); TensorFlow/Keras are imported
only when a model is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["digits_cnn", "digits_mlp", "load_digits_split", "mlp100k"]

DIGITS_SHAPE = (8, 8, 1)
NUM_DIGITS = 10


def load_digits_split(seed: int = 0, test_fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 [N,8,8,1] images in [0, 1] and int32 labels."""
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32).reshape(-1, *DIGITS_SHAPE)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def digits_cnn(seed: int = 0) -> Any:
    """A small CNN for 8×8 digits: Conv2D → DepthwiseConv2D → pooling → Dense (softmax); 45,482 parameters.

    The widths make every kernel large enough for the compressed update codecs (which send tensors
    under 256 elements as float32), so an update's fixed costs (headers, metadata, float32 biases)
    stay a small part of a sub-1-bit-per-parameter upload (benchmarks/federated.py).
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential([
        keras.Input(DIGITS_SHAPE),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv"),
        layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise"),
        layers.MaxPooling2D(2, name="max_pool"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_2"),
        layers.AveragePooling2D(2, name="avg_pool"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="hidden"),
        layers.Dense(NUM_DIGITS, activation="softmax", name="classifier"),
    ], name="digits_cnn")


def digits_mlp(seed: int = 0) -> Any:
    """A two-hidden-layer perceptron for 8×8 digits, ending in softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential([
        keras.Input(DIGITS_SHAPE),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="hidden"),
        layers.Dense(32, activation="relu", name="hidden_2"),
        layers.Dense(NUM_DIGITS, activation="softmax", name="classifier"),
    ], name="digits_mlp")


def mlp100k(seed: int = 0) -> Any:
    """A 100,042-parameter perceptron on 32 features (32 → 1024 → 64 → 10, softmax) for the server
    ingest benchmark (benchmarks/server_ingest.py): it trains on no data set; the benchmark uploads
    synthetic deltas of its weights, large enough that decoding and summing an update dominates a request.
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential([
        keras.Input((32,)),
        layers.Dense(1024, activation="relu", name="hidden"),
        layers.Dense(64, activation="relu", name="hidden_2"),
        layers.Dense(10, activation="softmax", name="classifier"),
    ], name="mlp100k")
