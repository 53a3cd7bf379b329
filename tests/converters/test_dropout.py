"""Dropout acts in ``train`` (inverted dropout with a fresh mask every step) and nowhere else, under
ai-edge-litert and tflite-runtime 2.14.

The model is ``x → Dropout → Dense(1, no bias)`` trained with mse and plain SGD on one all-ones row
with target 0, so a step changes weight d by −lr · 2o · keep_d, where o = Σ keep · w is the output
(√loss): the update reveals the mask, and the loss must agree with the same mask (the forward pass)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from converters import ConvertOptions, convert_model  # noqa: E402

SCRIPT = Path(__file__).with_name("dropout_steps.py")
FEATURES, RATE, LEARNING_RATE, STEPS = 1000, 0.3, 1e-5, 10  # small steps: the output stays positive
SCALE = 1 / (1 - RATE)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(0)
    initializer = keras.initializers.RandomUniform(0.5 / FEATURES, 1.5 / FEATURES)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dropout(RATE),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer=initializer, name="head")])
    result = convert_model(model, ConvertOptions(loss="mse", optimizer="sgd", learning_rate=LEARNING_RATE, batch_size=1))
    assert result.parity.passed and result.audit.builtin_only
    assert "RANDOM_UNIFORM" in result.manifest.ops["builtin"] and "set_dropout" in result.manifest.signatures
    path = tmp_path_factory.mktemp("dropout") / "dropout.tflite"
    path.write_bytes(result.model)
    return path


def run_steps(python: str, model: Path, folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir(exist_ok=True)
    out = folder / "steps.npz"
    env = dict(os.environ, PYTHONPATH=str(SCRIPT.parents[2]))
    done = subprocess.run([python, str(SCRIPT), str(model), str(STEPS), str(out)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(np.load(out))


def keep_factors(run: dict[str, np.ndarray]) -> np.ndarray:
    """keep_d per step, read from the update Δw_d = −lr · 2o · keep_d."""
    outputs = np.sqrt(run["losses"].astype(np.float64))[:, None]
    updates = np.diff(run["weights"].astype(np.float64), axis=0)
    return -updates / (LEARNING_RATE * 2 * outputs)


def check_dropout(run: dict[str, np.ndarray]) -> None:
    keep = keep_factors(run)[:STEPS]
    kept = keep > SCALE / 2
    np.testing.assert_allclose(keep[kept], SCALE, rtol=1e-4)  # kept elements are scaled by 1 / (1 - rate)
    assert np.all(keep[~kept] == 0)  # dropped ones get no gradient at all
    assert abs(kept.mean() - (1 - RATE)) < 0.03  # 10,000 draws: ~6.5 standard deviations
    assert len({row.tobytes() for row in kept}) == STEPS  # a fresh mask every step
    forward = SCALE * (run["weights"][:STEPS] * kept).sum(axis=1)  # the loss saw the same mask
    np.testing.assert_allclose(np.sqrt(run["losses"][:STEPS]), forward, rtol=1e-5)


def check_identity_elsewhere(run: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(keep_factors(run)[STEPS], 1.0, rtol=1e-4)  # set_dropout(0): every weight, unscaled
    output = run["weights"][-1].astype(np.float64).sum()
    np.testing.assert_allclose(run["infer"], output, rtol=1e-5)
    np.testing.assert_allclose(run["evaluate"], output**2, rtol=1e-5)


def test_train_drops_and_scales_while_evaluate_and_infer_do_not(model_path, tmp_path) -> None:
    run = run_steps(sys.executable, model_path, tmp_path)
    check_dropout(run)
    check_identity_elsewhere(run)


def test_tflite_runtime_2_14_drops_the_same_way(model_path, tmp_path) -> None:
    legacy = os.environ.get("FEDLITE_LEGACY_PYTHON")
    if not legacy:
        pytest.skip("FEDLITE_LEGACY_PYTHON is not set (make test sets it to .venv-legacy/bin/python)")
    run = run_steps(legacy, model_path, tmp_path)
    check_dropout(run)
    check_identity_elsewhere(run)


def test_masks_differ_between_interpreters(model_path, tmp_path) -> None:
    first, second = (keep_factors(run_steps(sys.executable, model_path, tmp_path / str(i)))[0] for i in range(2))
    assert not np.array_equal(first > SCALE / 2, second > SCALE / 2)
