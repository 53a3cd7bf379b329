"""Shared fixtures: the converted example models (:mod:`fedlite.model_cache`), cached in
``build/test-models/`` across runs and pytest-xdist workers; the environment for child processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fedlite.model_cache import ensure_model

REPO = Path(__file__).resolve().parents[1]
TEST_MODELS = REPO / "build" / "test-models"


def subprocess_env() -> dict[str, str]:
    """The environment for child Python processes: the repo importable, TensorFlow quiet."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))


@pytest.fixture(scope="session")
def digits_cnn_tflite() -> Path:
    """The example CNN (Conv2D, DepthwiseConv2D, pooling, Dense), Adam, batch 32."""
    return ensure_model("digits_cnn", TEST_MODELS)[0]


@pytest.fixture(scope="session")
def digits_mlp_tflite() -> Path:
    """The example MLP, SGD with momentum 0.9, batch 32."""
    return ensure_model("digits_mlp", TEST_MODELS)[0]
