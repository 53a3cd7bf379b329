"""``allow_flex``: a layer without a builtin-only implementation falls back to TensorFlow ops,
only on request, and the op audit lists the Flex ops it needs."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")
L = keras.layers

from converters import ConvertOptions, UnsupportedLayerError, convert_model  # noqa: E402

OPTIONS = dict(loss="sparse_categorical_crossentropy", learning_rate=0.1, batch_size=4)


def grouped_conv_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6, 6, 4)), L.Conv2D(4, 3, groups=2, name="grouped"), L.Flatten(), L.Dense(3)])


def test_unsupported_layer_is_refused_without_allow_flex() -> None:
    with pytest.raises(UnsupportedLayerError, match="'grouped'.*grouped convolution is not supported"):
        convert_model(grouped_conv_model(), ConvertOptions(**OPTIONS))


def test_fallback_lists_flex_ops_and_still_checks_parity() -> None:
    result = convert_model(grouped_conv_model(), ConvertOptions(**OPTIONS, allow_flex=True))
    assert not result.audit.builtin_only
    assert "Conv2DBackpropFilter" in result.manifest.ops["flex_ops"]
    assert result.manifest.ops["builtin_only"] is False
    assert result.parity.passed and "exported graph" in result.parity.runtime


def test_fallback_stays_builtin_when_tensorflow_gradients_lower_to_builtins() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.LayerNormalization(name="norm"), L.Dense(3)])
    result = convert_model(model, ConvertOptions(**OPTIONS, allow_flex=True))
    assert result.audit.builtin_only and result.parity.passed
    assert result.parity.runtime.startswith("ai-edge-litert")
    assert {"norm_gamma", "norm_beta"} <= {w.name for w in result.manifest.trainable_weights}
