"""Per-layer oracle tests: every supported layer, activation, loss and optimizer, converted and
trained for several steps in the TFLite interpreter, matches TensorFlow's autodiff and the Keras
optimizer (the converter's parity check), with zero Flex ops.

Layers are grouped into a few small models so the suite stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
L = keras.layers

from converters import ConvertOptions, convert_model  # noqa: E402
from converters.layers import ACTIVATIONS, SUPPORTED_LAYERS  # noqa: E402
from converters.losses import LOSSES  # noqa: E402

SCRIPTS = Path(__file__).parent
TIGHT = 1e-5  # the parity check's own tolerance is relative; these models stay far inside it


def vision_model():
    """Strided SAME conv on an odd input, frozen-statistics BN, strided depthwise with multiplier 2,
    overlapping SAME max/avg pooling, Add, Concatenate, GAP, Dropout."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((9, 9, 3))
    x = L.Rescaling(0.5, offset=0.1)(inputs)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="leaky_relu")(x)
    a = L.MaxPooling2D(3, strides=2, padding="same")(x)
    b = L.AveragePooling2D(3, strides=2, padding="same")(x)
    added = L.Add()([a, b])
    c = L.Conv2D(4, 3, padding="same", activation="sigmoid")(added)
    x = L.Concatenate()([added, c])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(8, activation="tanh")(x)
    x = L.Dropout(0.3)(x)
    model = keras.Model(inputs, L.Dense(5)(x), name="vision")
    _randomise_batch_norm(model.get_layer("bn"))
    return model


def _randomise_batch_norm(layer) -> None:
    rng = np.random.default_rng(0)
    gamma, beta, mean, variance = layer.get_weights()
    layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                       rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, variance.shape)])


def sequential_model():
    """VALID conv, ReLU/LeakyReLU/Activation layers, non-overlapping max pool, softmax output."""
    keras.utils.set_random_seed(2)
    return keras.Sequential([
        keras.Input((6, 6, 2)), L.Conv2D(3, 3), L.ReLU(), L.MaxPooling2D(2), L.Flatten(), L.Dense(16),
        L.LeakyReLU(negative_slope=0.1), L.Activation("tanh"), L.Dense(4, activation="softmax"),
    ], name="sequential_layers")


def embedding_model():
    """Integer input, Embedding, Dense on a rank-3 tensor, Reshape, a Softmax layer mid-network."""
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((6,), dtype="int32"), L.Embedding(20, 4), L.Dense(5, activation="relu"), L.Reshape((30,)),
        L.Dense(3), L.Softmax(), L.Dense(1, activation="sigmoid"),
    ], name="embedding")


def regression_model():
    """Asymmetric strides, AveragePooling2D VALID, a linear head."""
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((7, 5, 2)), L.Conv2D(4, 3, strides=(2, 1), activation="relu"), L.AveragePooling2D(2),
        L.Flatten(), L.Dense(3, activation="linear"),
    ], name="regression")


CASES = {
    "vision": (vision_model, dict(loss="categorical_crossentropy", optimizer="adam", learning_rate=0.01, batch_size=8)),
    "sequential": (sequential_model, dict(loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1,
                                          momentum=0.9, nesterov=True, batch_size=8)),
    "embedding": (embedding_model, dict(loss="binary_crossentropy", optimizer="sgd", learning_rate=0.5, batch_size=8)),
    "regression": (regression_model, dict(loss="mse", optimizer="adam", learning_rate=0.01, batch_size=4)),
}


@pytest.fixture(scope="module")
def converted():
    return {name: (build(), convert_model(build(), ConvertOptions(**options))) for name, (build, options) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tflite_training_matches_tensorflow(converted, name: str) -> None:
    _, result = converted[name]
    parity = result.parity
    assert parity.passed, parity
    assert parity.max_loss_diff < TIGHT and parity.max_weight_diff < TIGHT
    assert parity.correct_matches


@pytest.mark.parametrize("name", sorted(CASES))
def test_converted_models_are_builtin_only(converted, name: str) -> None:
    _, result = converted[name]
    assert result.audit.builtin_only and result.manifest.ops["flex_ops"] == []
    assert not any(op.startswith("Flex") for op in result.audit.op_counts)


def test_every_supported_layer_activation_and_loss_is_covered(converted) -> None:
    layers, activations, losses = set(), set(), set()
    for model, result in converted.values():
        for layer in model.layers:
            layers.add(type(layer).__name__)
            activations.add(getattr(getattr(layer, "activation", None), "__name__", None))
        activations |= {s.op.name for s in result.graph.steps if type(s.op).__name__ == "Activation"}
        losses.add(result.manifest.loss["name"])
    assert set(SUPPORTED_LAYERS) <= layers
    assert set(ACTIVATIONS) <= activations
    assert set(LOSSES) == losses


@pytest.mark.parametrize(("loss", "activation", "from_logits"), [
    ("sparse_categorical_crossentropy", None, True),
    ("categorical_crossentropy", "softmax", False),
    ("binary_crossentropy", None, True),
])
def test_loss_variants_match_tensorflow(loss: str, activation: str | None, from_logits: bool) -> None:
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(3, activation=activation)])
    result = convert_model(model, ConvertOptions(loss=loss, optimizer="sgd", learning_rate=0.3, batch_size=6))
    assert result.manifest.loss["from_logits"] is from_logits
    assert result.parity.passed and result.parity.max_weight_diff < TIGHT
    assert result.audit.builtin_only


def test_weights_move_in_every_trainable_tensor(converted) -> None:
    from edge_sdk import TrainableModel
    from converters.parity import random_batches

    model, result = converted["vision"]
    trained = TrainableModel(result.model)
    before = trained.get_weights()
    batches = random_batches(result.graph, _loss(result), result.manifest.batch_size, seed=3)
    for x, y, mask in batches:
        trained._run("train", x=x, y=y, mask=mask)
    after = trained.get_weights()
    for spec in result.manifest.weights:
        changed = not np.array_equal(before[spec.name], after[spec.name])
        assert changed == spec.trainable, spec.name


def _loss(result):
    from converters.losses import Loss

    return Loss(result.manifest.loss["name"], result.manifest.loss["from_logits"], int(np.prod(result.manifest.output.shape[1:])))


@pytest.mark.parametrize("name", sorted(CASES))
def test_legacy_runtime_trains_step_for_step_like_litert(converted, name: str, tmp_path) -> None:
    """Every op (and op version) of the converted models also runs on tflite-runtime 2.14."""
    legacy = os.environ.get("FEDLITE_LEGACY_PYTHON")
    if not legacy:
        pytest.skip("FEDLITE_LEGACY_PYTHON is not set (make test sets it to .venv-legacy/bin/python)")
    from converters.parity import random_batches

    _, result = converted[name]
    model_path, batches_path = tmp_path / "model.tflite", tmp_path / "batches.npz"
    model_path.write_bytes(result.model)
    batches = random_batches(result.graph, _loss(result), result.manifest.batch_size, seed=11)
    np.savez(batches_path, **{f"{key}{i}": value for i, batch in enumerate(batches) for key, value in zip("x y mask".split(), batch)})
    runs = {}
    for label, python in (("litert", sys.executable), ("legacy", legacy)):
        out = tmp_path / f"{label}.npz"
        done = subprocess.run([python, str(SCRIPTS / "replay_steps.py"), str(model_path), str(batches_path), str(out)],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(SCRIPTS.parents[1])), timeout=120)
        assert done.returncode == 0, done.stderr
        runs[label] = np.load(out)
    assert "tflite-runtime 2.14" in done.stdout
    np.testing.assert_allclose(runs["legacy"]["losses"], runs["litert"]["losses"], rtol=1e-5)
    for key in runs["litert"].files:
        np.testing.assert_allclose(runs["legacy"][key], runs["litert"][key], rtol=1e-4, atol=1e-6, err_msg=key)
