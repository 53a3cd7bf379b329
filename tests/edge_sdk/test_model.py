"""TrainableModel on real converted models in the real interpreter: training, masking, weights."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import DataSpecError, ModelFileError, TrainableModel, WeightsMismatchError
from edge_sdk.model import PLACEHOLDER_INPUT
from fedlite.examples import load_digits_split


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.fixture()
def cnn(digits_cnn_tflite) -> TrainableModel:
    return TrainableModel(digits_cnn_tflite)


@pytest.fixture()
def mlp(digits_mlp_tflite) -> TrainableModel:
    return TrainableModel(digits_mlp_tflite.read_bytes())


def test_fit_lowers_the_loss_and_evaluate_reports_accuracy(mlp: TrainableModel, digits) -> None:
    x_train, y_train, x_test, y_test = digits
    before = mlp.evaluate(x_test, y_test)
    history = mlp.fit(x_train, y_train, epochs=3, seed=1)
    after = mlp.evaluate(x_test, y_test)
    assert len(history) == 3 and history[2] < history[0]
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.8
    assert after["num_examples"] == len(x_test)


def test_evaluate_is_the_example_weighted_mean_over_padded_batches(cnn: TrainableModel, digits) -> None:
    x, y = digits[0][:37], digits[1][:37]  # one full batch and a padded one
    whole = cnn.evaluate(x, y)
    singles = [cnn.evaluate(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]
    assert whole["loss"] == pytest.approx(np.mean([s["loss"] for s in singles]), rel=1e-5)
    assert whole["accuracy"] == pytest.approx(np.mean([s["accuracy"] for s in singles]))


def test_padding_rows_do_not_affect_a_train_step(digits_mlp_tflite, digits) -> None:
    x, y = digits[0][:32], digits[1][:32]
    mask = np.r_[np.ones(20), np.zeros(12)].astype(np.float32)
    garbage_x, garbage_y = x.copy(), y.copy()
    garbage_x[20:], garbage_y[20:] = 7.0, 3
    results = []
    for xb, yb in ((x, y), (garbage_x, garbage_y)):
        model = TrainableModel(digits_mlp_tflite)
        model._run("train", x=xb, y=yb, mask=mask)
        results.append(model.get_weights())
    for name in results[0]:
        np.testing.assert_array_equal(results[0][name], results[1][name])


def test_predict_pads_and_matches_evaluate(cnn: TrainableModel, digits) -> None:
    x, y = digits[2][:45], digits[3][:45]
    probabilities = cnn.predict(x)
    assert probabilities.shape == (45, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(1) == y) == pytest.approx(cnn.evaluate(x, y)["accuracy"])
    np.testing.assert_array_equal(cnn.predict(x[:3]), probabilities[:3])


def test_weights_round_trip_by_name(cnn: TrainableModel, digits) -> None:
    initial = cnn.get_weights()
    assert list(initial) == [w.name for w in cnn.manifest.weights]
    cnn.fit(digits[0][:64], digits[1][:64], seed=0)
    assert any(not np.array_equal(initial[n], w) for n, w in cnn.get_weights().items())
    cnn.set_weights(initial)
    for name, value in cnn.get_weights().items():
        np.testing.assert_array_equal(value, initial[name])


def test_get_weights_returns_copies(cnn: TrainableModel) -> None:
    weights = cnn.get_weights()
    weights["classifier_bias"][:] = 42.0
    assert not np.any(cnn.get_weights()["classifier_bias"] == 42.0)


@pytest.mark.parametrize(("change", "message"), [
    (lambda w: w.pop("classifier_bias"), "missing weights \\['classifier_bias'\\]"),
    (lambda w: w.update(extra=np.zeros(1, np.float32)), "unknown weights \\['extra'\\]"),
    (lambda w: w.update(classifier_bias=np.zeros(11, np.float32)), "'classifier_bias': shape must be \\(10,\\)"),
    (lambda w: w.update(classifier_bias=np.zeros(10, np.float64)), "'classifier_bias': dtype must be float32"),
    (lambda w: w.update(classifier_bias=np.full(10, np.nan, np.float32)), "'classifier_bias': contains NaN"),
])
def test_set_weights_rejects_mismatches_and_changes_nothing(cnn: TrainableModel, change, message: str) -> None:
    before = cnn.get_weights()
    weights = cnn.get_weights()
    for name in weights:
        weights[name] = weights[name] + 1.0
    change(weights)
    with pytest.raises(WeightsMismatchError, match=message):
        cnn.set_weights(weights)
    for name, value in cnn.get_weights().items():
        np.testing.assert_array_equal(value, before[name])


def test_learning_rate_setter_scales_the_sgd_step(digits_mlp_tflite, digits) -> None:
    x, y = digits[0][:32], digits[1][:32]
    deltas = []
    for rate in (0.05, 0.005):
        model = TrainableModel(digits_mlp_tflite)
        model.learning_rate = rate
        start = model.get_weights()["classifier_bias"]
        model.fit(x, y, shuffle=False)  # first step: no momentum history yet
        deltas.append(model.get_weights()["classifier_bias"] - start)
    assert model.learning_rate == 0.005
    np.testing.assert_allclose(deltas[1], deltas[0] / 10, rtol=1e-4, atol=1e-9)
    with pytest.raises(ValueError, match="positive"):
        model.learning_rate = 0.0


def test_optimizer_state_get_set_and_reset(cnn: TrainableModel, digits) -> None:
    spec_names = [s.name for s in cnn.manifest.optimizer_state]
    assert "iterations" in spec_names and "m_classifier_kernel" in spec_names
    cnn.fit(digits[0][:64], digits[1][:64], seed=0)
    state = cnn.get_optimizer_state()
    assert state["iterations"] == 2.0 and np.any(state["m_classifier_kernel"] != 0)
    cnn.reset_optimizer()
    assert all(not np.any(v) for v in cnn.get_optimizer_state().values())
    cnn.set_optimizer_state(state)
    np.testing.assert_array_equal(cnn.get_optimizer_state()["v_conv_kernel"], state["v_conv_kernel"])


def test_every_signature_takes_an_input_for_litert_java(cnn: TrainableModel) -> None:
    """LiteRT's Java ``runSignature`` refuses an empty input map: the signatures that need no data
    take the placeholder, float32 [1]."""
    interpreter = cnn._interpreter
    assert all(io["inputs"] for io in interpreter.get_signature_list().values())
    for name in ("get_weights", "get_optimizer_state", "reset_optimizer"):
        details = interpreter.get_signature_runner(name).get_input_details()
        assert list(details) == [PLACEHOLDER_INPUT], name
        assert details[PLACEHOLDER_INPUT]["dtype"] == np.float32 and list(details[PLACEHOLDER_INPUT]["shape"]) == [1]


@pytest.mark.parametrize("value", [np.nan, -np.inf, 3e38, 7.0])
def test_the_placeholder_value_changes_nothing(cnn: TrainableModel, digits, value: float) -> None:
    cnn.fit(digits[0][:64], digits[1][:64], seed=0)
    weights, state = cnn.get_weights(), cnn.get_optimizer_state()
    placeholder = {PLACEHOLDER_INPUT: np.array([value], np.float32)}
    for name, tensor in cnn._run("get_weights", **placeholder).items():
        np.testing.assert_array_equal(tensor, weights[name])
    for name, tensor in cnn._run("get_optimizer_state", **placeholder).items():
        np.testing.assert_array_equal(tensor, state[name])
    cnn._run("reset_optimizer", **placeholder)
    assert all(not np.any(v) for v in cnn.get_optimizer_state().values())
    for name, tensor in cnn.get_weights().items():
        np.testing.assert_array_equal(tensor, weights[name])


@pytest.mark.parametrize(("x", "y", "message"), [
    (np.zeros((4, 8, 8)), np.zeros(4, np.int32), "x must have shape \\(N, 8, 8, 1\\)"),
    (np.zeros((4, 8, 8, 1)), np.zeros(5, np.int32), "y must have shape \\(4,\\)"),
    (np.zeros((4, 8, 8, 1)), np.zeros(4, np.float32), "integer class ids"),
    (np.zeros((4, 8, 8, 1)), np.full(4, 10), "class ids must be in \\[0, 10\\)"),
    (np.zeros((0, 8, 8, 1)), np.zeros(0, np.int32), "no examples"),
    (np.full((4, 8, 8, 1), "a"), np.zeros(4, np.int32), "numeric"),
])
def test_bad_data_is_rejected_with_the_expected_spec(cnn: TrainableModel, x, y, message: str) -> None:
    with pytest.raises(DataSpecError, match=message):
        cnn.fit(x, y)


def test_labels_of_shape_n_by_1_are_accepted(cnn: TrainableModel, digits) -> None:
    x, y = digits[2][:10], digits[3][:10]
    assert cnn.evaluate(x, y[:, None]) == cnn.evaluate(x, y)


def test_batch_size_above_the_static_batch_is_rejected(cnn: TrainableModel, digits) -> None:
    with pytest.raises(ValueError, match="batch_size must be in \\[1, 32\\]"):
        cnn.fit(digits[0][:40], digits[1][:40], batch_size=64)


@pytest.mark.parametrize("cut", [0, 16, 1000, -100])
def test_truncated_model_file_is_a_clear_error(digits_cnn_tflite, cut: int) -> None:
    with pytest.raises(ModelFileError):
        TrainableModel(digits_cnn_tflite.read_bytes()[:cut])


def test_bytes_that_are_not_a_model_are_rejected() -> None:
    with pytest.raises(ModelFileError, match="TFL3"):
        TrainableModel(b"not a model at all")


def test_model_without_a_required_signature_is_rejected(digits_mlp_tflite) -> None:
    renamed = digits_mlp_tflite.read_bytes().replace(b"set_learning_rate", b"xet_learning_rate")
    with pytest.raises(ModelFileError, match="lacks the signatures \\['set_learning_rate'\\]"):
        TrainableModel(renamed)
