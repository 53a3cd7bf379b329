"""``fedlite convert``: the printed checks, side-car manifest, and one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from converters.cli import main
from edge_sdk.wire import Manifest, read_manifest
from fedlite.model_cache import RECIPES

keras = pytest.importorskip("keras")
L = keras.layers
REPO = Path(__file__).resolve().parents[2]
GOOD = ["--loss", "sparse_categorical_crossentropy", "--optimizer", "sgd", "--learning-rate", "0.1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keras")
    builders = {
        "small": lambda: keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu", name="hidden"), L.Dense(3, name="head")]),
        "layernorm": lambda: keras.Sequential([keras.Input((3,)), L.LayerNormalization(name="norm"), L.Dense(3)]),
        "gelu": lambda: keras.Sequential([keras.Input((3,)), L.Dense(3, activation="gelu", name="fancy")]),
        "one_output": lambda: keras.Sequential([keras.Input((3,)), L.Dense(1)]),
        "regularized": lambda: keras.Sequential([keras.Input((3,)), L.Dense(3, kernel_regularizer="l2", name="reg")]),
    }
    paths = {}
    for name, build in builders.items():
        paths[name] = folder / f"{name}.keras"
        build().save(paths[name])
    paths["corrupt"] = folder / "corrupt.keras"
    paths["corrupt"].write_bytes(b"PK\x03\x04 this is not really a zip archive")
    return paths


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_conversion_prints_checks_and_writes_model_and_manifest(models, tmp_path, capsys) -> None:
    output = tmp_path / "out" / "small.tflite"
    code, out, err = run(capsys, str(models["small"]), "-o", str(output), *GOOD, "--model-id", "small-v1")
    assert code == 0, err
    for expected in ("hidden", "Dense", "parameters:  31 trainable", "builtin only: yes", "parity:      PASSED",
                     f"file size:   {output.stat().st_size:,} bytes"):
        assert expected in out
    manifest = read_manifest(output.read_bytes())
    assert manifest.model_id == "small-v1" and manifest.batch_size == 4
    assert Manifest.from_json(output.with_name("small.manifest.json").read_text()) == manifest


@pytest.mark.slow
def test_the_cli_converts_the_example_cnn_exactly_as_the_model_cache(digits_cnn_tflite, tmp_path, capsys) -> None:
    recipe = RECIPES["digits_cnn"]
    options = [arg for key, value in recipe.items() for arg in (f"--{key.replace('_', '-')}", str(value))]
    output = tmp_path / "digits_cnn.tflite"
    code, out, err = run(capsys, str(digits_cnn_tflite.with_suffix(".keras")), "-o", str(output), *options)
    assert code == 0, err
    assert "builtin only: yes" in out and "parity:      PASSED" in out
    assert "DepthwiseConv2D" in out and "BATCH_MATMUL" in out
    converted, cached = read_manifest(output.read_bytes()), read_manifest(digits_cnn_tflite.read_bytes())
    assert replace(converted, parity={}) == replace(cached, parity={})  # the same graph (graph_sha256) and weights


@pytest.mark.parametrize(("model", "extra", "message"), [
    ("missing", [], "does not exist"),
    ("corrupt", [], "cannot load Keras model"),
    ("layernorm", [], "layer 'norm' of type LayerNormalization is not supported; supported layers: Activation, Add"),
    ("gelu", [], "activation 'gelu' is not supported; supported: linear, relu"),
    ("one_output", [], "needs a model output of shape (batch, classes) with at least 2 classes"),
    ("regularized", [], "layer 'reg' (Dense): kernel_regularizer is not supported"),
    ("small", ["--loss", "hinge"], "loss 'hinge' is not supported; supported losses: sparse_categorical_crossentropy"),
    ("small", ["--optimizer", "rmsprop"], "optimizer 'rmsprop' is not supported; supported optimizers: sgd, adam"),
    ("small", ["--freeze-until", "nope"], "the model has no layer 'nope'; its layers: hidden, head"),
    ("small", ["--freeze-until", "head"], "no trainable weights"),
    ("small", ["--nesterov"], "--nesterov needs a non-zero --momentum"),
    ("small", ["--momentum", "1.5"], "momentum must be in [0, 1)"),
    ("small", ["--optimizer", "adam", "--momentum", "0.9"], "momentum and nesterov apply to sgd only"),
    ("small", ["--model-id", "a b"], "model id 'a b'"),
])
def test_bad_input_is_one_clear_line(models, tmp_path, capsys, model: str, extra: list[str], message: str) -> None:
    source = models.get(model, tmp_path / "missing.keras")
    output = tmp_path / "out.tflite"
    code, _, err = run(capsys, str(source), "-o", str(output), *GOOD, *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("fedlite convert: error: ")
    assert message in err
    assert not output.exists()


@pytest.mark.parametrize("batch", ["0", "-3", "four"])
def test_non_positive_batch_size_is_rejected(models, tmp_path, capsys, batch: str) -> None:
    with pytest.raises(SystemExit) as info:
        main([str(models["small"]), "-o", str(tmp_path / "o.tflite"), "--loss", "mse", "--batch-size", batch])
    assert info.value.code == 2
    assert "--batch-size" in capsys.readouterr().err


def test_a_real_process_prints_no_traceback(models, tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "fedlite", "convert", str(models["corrupt"]), "-o", str(tmp_path / "o.tflite"),
                          *GOOD], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("fedlite convert: error: cannot load Keras model")
