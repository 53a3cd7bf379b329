"""Shared fixtures: converted example models, cached on disk across runs and pytest-xdist workers.

A model is converted by the real CLI in a subprocess the first time its recipe or the converter's
source changes; later runs reuse ``build/test-models/<hash>/``. A file lock makes concurrent
workers wait for one conversion instead of repeating it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO / "build" / "test-models"
# Sources whose change invalidates converted models.
SOURCES = ("converters/**/*.py", "fedlite/examples.py", "edge_sdk/wire/manifest.py", "edge_sdk/wire/tflite_file.py")
# model name → (builder in fedlite.examples, fedlite convert options)
RECIPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "digits_cnn": ("digits_cnn", ("--loss", "sparse_categorical_crossentropy", "--optimizer", "adam",
                                  "--learning-rate", "0.005", "--batch-size", "32")),
    "digits_mlp": ("digits_mlp", ("--loss", "sparse_categorical_crossentropy", "--optimizer", "sgd",
                                  "--learning-rate", "0.05", "--momentum", "0.9", "--batch-size", "32")),
}


def source_hash() -> str:
    """Hash of the converter's source, the example models and the recipes."""
    digest = hashlib.sha256(repr(sorted(RECIPES.items())).encode())
    for path in sorted({p for pattern in SOURCES for p in REPO.glob(pattern)}):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def subprocess_env() -> dict[str, str]:
    """The environment for child Python processes: the repo importable, TensorFlow quiet."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))


def _convert(name: str, directory: Path) -> None:
    builder, options = RECIPES[name]
    keras_path, tflite_path = directory / f"{name}.keras", directory / f"{name}.tflite"
    save = f"from fedlite.examples import {builder}; {builder}().save({str(keras_path)!r})"
    subprocess.run([sys.executable, "-c", save], check=True, env=subprocess_env(), cwd=REPO, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "fedlite", "convert", str(keras_path), "-o", str(tflite_path), *options],
                            env=subprocess_env(), cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"converting {name} failed:\n{result.stdout}\n{result.stderr}")
    (directory / f"{name}.log").write_text(result.stdout)


def converted_model(name: str) -> Path:
    """Path to the converted ``name`` model, converting it (once, under a lock) if needed."""
    directory = CACHE_ROOT / source_hash()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.tflite"
    with open(directory / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            staging = directory / f".{name}-{os.getpid()}"
            staging.mkdir(exist_ok=True)
            _convert(name, staging)
            for suffix in (".keras", ".manifest.json", ".log", ".tflite"):  # the .tflite last: it marks completion
                os.replace(staging / f"{name}{suffix}", directory / f"{name}{suffix}")
            staging.rmdir()
    return target


@pytest.fixture(scope="session")
def digits_cnn_tflite() -> Path:
    """The example CNN (Conv2D, DepthwiseConv2D, pooling, Dense), Adam, batch 32."""
    return converted_model("digits_cnn")


@pytest.fixture(scope="session")
def digits_mlp_tflite() -> Path:
    """The example MLP, SGD with momentum 0.9, batch 32."""
    return converted_model("digits_mlp")
