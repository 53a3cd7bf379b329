"""The example models: keyed by their recipe and sources, converted once in a child process under a
lock, published whole or not at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_sdk._lazy import MissingDependencyError
from edge_sdk.wire.manifest import read_manifest
from fedlite.model_cache import (RECIPES, SOURCE_ROOT, ExampleModelError, cache_dir, cached_model_path, ensure_model,
                                 recipe_key, source_files)
from tests.conftest import REPO, subprocess_env

# One caller of ensure_model in its own process; prints whether it converted.
CALLER = ("import sys; from pathlib import Path; from fedlite.model_cache import ensure_model; "
          "print(ensure_model('digits_mlp', Path(sys.argv[1]))[1])")


def test_cache_location_follows_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"FEDLITE_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "fedlite"
    assert cache_dir({}) == Path.home() / ".cache" / "fedlite"


def test_the_key_changes_with_an_option_of_the_recipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = {name: cached_model_path(name, tmp_path) for name in RECIPES}
    monkeypatch.setitem(RECIPES, "digits_mlp", {**RECIPES["digits_mlp"], "learning_rate": 0.01})
    assert cached_model_path("digits_mlp", tmp_path) != before["digits_mlp"]
    assert cached_model_path("digits_cnn", tmp_path) == before["digits_cnn"]
    assert before["digits_cnn"].parent.parent == tmp_path and before["digits_cnn"].name == "digits_cnn.tflite"


def copy_sources(destination: Path) -> None:
    for path in source_files():
        copy = destination / path.relative_to(SOURCE_ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)


@pytest.mark.parametrize("changed", ["converters/ops.py", "converters/new_module.py", "fedlite/examples.py",
                                     "fedlite/model_cache.py", "edge_sdk/model.py", "edge_sdk/runtime.py",
                                     "edge_sdk/wire/manifest.py", "edge_sdk/wire/tflite_file.py"])
def test_the_key_changes_with_any_source_the_conversion_depends_on(tmp_path: Path, changed: str) -> None:
    copy_sources(tmp_path)
    assert recipe_key("digits_cnn", tmp_path) == recipe_key("digits_cnn")  # the content counts, not the location
    with open(tmp_path / changed, "a") as file:
        file.write("\n# changed\n")
    assert recipe_key("digits_cnn", tmp_path) != recipe_key("digits_cnn")


def test_an_unknown_model_is_named() -> None:
    message = "^no example model 'digits_rnn'; choose one of digits_cnn, digits_mlp, mlp100k$"
    with pytest.raises(ValueError, match=message):
        ensure_model("digits_rnn")


def test_a_cached_model_is_used_without_converting(tmp_path: Path, digits_cnn_tflite: Path) -> None:
    target = cached_model_path("digits_cnn", tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(digits_cnn_tflite.read_bytes())
    assert ensure_model("digits_cnn", tmp_path) == (target, False)


def test_no_tensorflow_and_nothing_cached_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "shadow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'tensorflow'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))  # the converting child cannot import TensorFlow
    cache = tmp_path / "cache"
    with pytest.raises(MissingDependencyError) as info:
        ensure_model("digits_mlp", cache)
    assert str(info.value) == (f"converting the example model digits_mlp needs TensorFlow, and no converted copy is "
                               f"cached in {cache}; install it with: pip install 'fedlite[convert]'")
    assert list(cache.iterdir()) == []


@pytest.mark.slow
def test_a_failed_conversion_leaves_nothing_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every layer frozen: the child has saved NAME.keras and loaded it again before the converter refuses.
    monkeypatch.setitem(RECIPES, "digits_mlp", {**RECIPES["digits_mlp"], "freeze_until": "classifier"})
    failed = "^converting the example model digits_mlp failed: .*no trainable weights"
    with pytest.raises(ExampleModelError, match=failed):
        ensure_model("digits_mlp", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_concurrent_callers_convert_once_and_publish_every_file(tmp_path: Path) -> None:
    callers = [subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=subprocess_env(), cwd=REPO) for _ in range(3)]
    outputs = [caller.communicate(timeout=300) for caller in callers]
    assert [caller.returncode for caller in callers] == [0, 0, 0], outputs
    assert sorted(stdout.strip() for stdout, _ in outputs) == ["False", "False", "True"]
    path = cached_model_path("digits_mlp", tmp_path)
    assert os.listdir(tmp_path) == [path.parent.name]
    assert sorted(os.listdir(path.parent)) == ["digits_mlp.keras", "digits_mlp.manifest.json", "digits_mlp.tflite"]
    manifest = read_manifest(path.read_bytes())
    assert (manifest.model_id, manifest.optimizer["name"], manifest.optimizer["momentum"]) == ("digits_mlp", "sgd", 0.9)
    assert manifest.parity["passed"] is True
    assert ensure_model("digits_mlp", tmp_path) == (path, False)
