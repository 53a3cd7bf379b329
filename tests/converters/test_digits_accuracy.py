"""The example CNN, converted by the CLI in a subprocess (the ``digits_cnn_tflite`` fixture) and
trained only through the TFLite interpreter, reaches ≥ 95 % test accuracy on load_digits, under
ai-edge-litert and under the legacy tflite-runtime 2.14 (``FEDLITE_LEGACY_PYTHON``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.wire import read_manifest
from fedlite.examples import load_digits_split

SCRIPT = Path(__file__).with_name("train_digits.py")
EPOCHS = 20
TARGET_ACCURACY = 0.95


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def train(python: str, model: Path, data: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SCRIPT.parents[2]))
    out = subprocess.run([python, str(SCRIPT), str(model), str(data), str(EPOCHS)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cnn_has_conv_depthwise_pooling_and_dense_and_no_flex_ops(digits_cnn_tflite) -> None:
    manifest = read_manifest(digits_cnn_tflite.read_bytes())
    kinds = {layer["type"] for layer in manifest.layers}
    assert {"Conv2D", "DepthwiseConv2D", "MaxPooling2D", "Dense"} <= kinds
    assert manifest.ops["builtin_only"] and not manifest.ops["flex_ops"]


def test_cnn_trains_to_95_percent_on_ai_edge_litert(digits_cnn_tflite, digits_npz) -> None:
    result = train(sys.executable, digits_cnn_tflite, digits_npz)
    assert result["runtime"].startswith("ai-edge-litert")
    assert result["accuracy"] >= TARGET_ACCURACY, result
    assert result["history"][-1] < result["history"][0]


def test_cnn_trains_to_95_percent_on_tflite_runtime_2_14(digits_cnn_tflite, digits_npz) -> None:
    legacy = os.environ.get("FEDLITE_LEGACY_PYTHON")
    if not legacy:
        pytest.skip("FEDLITE_LEGACY_PYTHON is not set (make test sets it to .venv-legacy/bin/python)")
    result = train(legacy, digits_cnn_tflite, digits_npz)
    assert result["runtime"] == "tflite-runtime 2.14.0"
    assert result["accuracy"] >= TARGET_ACCURACY, result
