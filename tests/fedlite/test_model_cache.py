"""The converted example model: converted once in a child process, then served from the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_sdk import TrainableModel
from fedlite import model_cache
from fedlite.model_cache import cache_dir, cached_model_path, ensure_example_model


def test_cache_location_follows_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"FEDLITE_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "fedlite"
    assert cache_dir({}) == Path.home() / ".cache" / "fedlite"


def test_the_cache_key_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = cached_model_path(tmp_path)
    monkeypatch.setitem(model_cache.RECIPE, "learning_rate", 0.01)
    assert cached_model_path(tmp_path) != before and cached_model_path(tmp_path).parent == tmp_path


def test_a_cached_model_is_used_without_converting(tmp_path: Path, digits_cnn_tflite: Path) -> None:
    target = cached_model_path(tmp_path)
    target.write_bytes(digits_cnn_tflite.read_bytes())
    assert ensure_example_model(tmp_path) == (target, False)


@pytest.mark.slow
def test_the_example_model_is_converted_once_into_the_cache(tmp_path: Path) -> None:
    path, converted = ensure_example_model(tmp_path / "cache")
    assert converted and path == cached_model_path(tmp_path / "cache")
    assert os.listdir(tmp_path / "cache") == [path.name]  # no partial file left behind
    model = TrainableModel(path)
    assert model.manifest.model_id == "digits_cnn" and model.manifest.optimizer["name"] == "adam"
    assert sum(spec.size for spec in model.manifest.trainable_weights) == 45_482
    assert ensure_example_model(tmp_path / "cache") == (path, False)
