"""Transfer learning: ``freeze_until`` bakes the base as constants and trains only the head."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
L = keras.layers

from converters import ConvertOptions, convert_model  # noqa: E402
from edge_sdk import TrainableModel  # noqa: E402


def base_and_head():
    keras.utils.set_random_seed(7)
    return keras.Sequential([
        keras.Input((6, 6, 2)), L.Conv2D(4, 3, activation="relu", name="base_conv"), L.Flatten(name="flatten"),
        L.BatchNormalization(name="bn"), L.Dense(8, activation="relu", name="neck"), L.Dense(3, name="head"),
    ], name="transfer")


@pytest.fixture(scope="module")
def frozen():
    options = ConvertOptions(loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1, batch_size=4,
                             freeze_until="flatten")
    return convert_model(base_and_head(), options)


def test_frozen_layers_become_constants(frozen) -> None:
    manifest = frozen.manifest
    names = [w.name for w in manifest.weights]
    assert not any(name.startswith("base_conv") for name in names)
    assert manifest.frozen_parameters == 3 * 3 * 2 * 4 + 4
    assert [w.name for w in manifest.trainable_weights] == ["bn_gamma", "bn_beta", "neck_kernel", "neck_bias", "head_kernel", "head_bias"]
    statistics = [w for w in manifest.weights if not w.trainable]
    assert [w.name for w in statistics] == ["bn_moving_mean", "bn_moving_variance"]
    assert [layer["frozen"] for layer in manifest.layers] == [True, True, False, False, False]


def test_frozen_model_matches_tensorflow_and_skips_the_base_gradient(frozen) -> None:
    assert frozen.parity.passed and frozen.audit.builtin_only
    # The frozen convolution needs no input or filter gradient: only its forward CONV_2D remains
    # in each of train / evaluate / infer.
    assert frozen.audit.op_counts["CONV_2D"] == 3


def test_training_changes_the_head_and_never_the_statistics(frozen) -> None:
    model = TrainableModel(frozen.model)
    before = model.get_weights()
    rng = np.random.default_rng(0)
    model.fit(rng.uniform(size=(12, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 12), epochs=2)
    after = model.get_weights()
    for spec in model.manifest.weights:
        assert np.array_equal(before[spec.name], after[spec.name]) != spec.trainable, spec.name


def test_a_nested_base_model_is_inlined_and_frozen_by_name() -> None:
    keras.utils.set_random_seed(8)
    base = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(3, 3, activation="relu", name="inner_conv"),
                             L.GlobalAveragePooling2D(name="inner_pool")], name="base")
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, L.Dense(2, name="head")(base(inputs)), name="with_base")
    options = ConvertOptions(loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.01, batch_size=4)
    trainable = convert_model(model, options)
    frozen = convert_model(model, ConvertOptions(**{**vars(options), "freeze_until": "base"}))
    assert [w.name for w in trainable.manifest.weights] == ["inner_conv_kernel", "inner_conv_bias", "head_kernel", "head_bias"]
    assert [w.name for w in frozen.manifest.weights] == ["head_kernel", "head_bias"]
    assert frozen.manifest.frozen_parameters == 3 * 3 * 3 + 3
    assert trainable.parity.passed and frozen.parity.passed


def test_conversion_leaves_the_keras_model_unchanged() -> None:
    model = base_and_head()
    before = [w.numpy().copy() for w in model.weights]
    convert_model(model, ConvertOptions(loss="sparse_categorical_crossentropy", learning_rate=0.5, batch_size=4))
    for weight, value in zip(model.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
