"""Manifest dataclasses, JSON round trips, field-naming errors and extraction from a .tflite."""

from __future__ import annotations

import json
import re

import pytest

from edge_sdk.wire import Manifest, ManifestError, TensorSpec, WeightSpec, read_manifest


def make_manifest(**changes) -> Manifest:
    fields = dict(
        format_version=1, model_id="tiny", graph_sha256="ab" * 32,
        input=TensorSpec("x", (4, 3), "float32"), label=TensorSpec("y", (4,), "int32"),
        output=TensorSpec("output", (4, 2), "float32"), batch_size=4, task="classification", num_classes=2,
        weights=(WeightSpec("dense_kernel", (3, 2), "float32", True, "seq/dense/kernel"),
                 WeightSpec("dense_bias", (2,), "float32", True, "seq/dense/bias"),
                 WeightSpec("bn_moving_mean", (2,), "float32", False, "seq/bn/moving_mean")),
        loss={"name": "sparse_categorical_crossentropy", "from_logits": True},
        optimizer={"name": "adam", "learning_rate": 0.01, "state": [{"name": "iterations", "shape": [], "dtype": "float32"}]},
        ops={"builtin": ["ADD"], "flex_ops": [], "builtin_only": True}, signatures=("train",), frozen_parameters=7,
    )
    return Manifest(**{**fields, **changes})


def test_json_round_trip_is_lossless() -> None:
    manifest = make_manifest(parity={"passed": True})
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(manifest.to_json().encode()) == manifest


def test_accessors() -> None:
    manifest = make_manifest()
    assert [w.name for w in manifest.trainable_weights] == ["dense_kernel", "dense_bias"]
    assert manifest.num_trainable_parameters == 8
    assert manifest.weight("dense_bias").shape == (2,)
    assert manifest.optimizer_state == (TensorSpec("iterations", (), "float32"),)
    with pytest.raises(KeyError, match="nope"):
        manifest.weight("nope")


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda raw: raw.pop("model_id"), "model_id"),
    (lambda raw: raw.update(batch_size="32"), "batch_size"),
    (lambda raw: raw.update(batch_size=True), "batch_size"),
    (lambda raw: raw.update(task="ranking"), "task"),
    (lambda raw: raw.update(format_version=99), "format_version"),
    (lambda raw: raw.update(graph_sha256="xyz"), "graph_sha256"),
    (lambda raw: raw["input"].update(shape=[4, -3]), "input.shape"),
    (lambda raw: raw["input"].pop("dtype"), "input"),
    (lambda raw: raw["label"].update(shape=[5]), "label"),
    (lambda raw: raw["weights"][0].update(name="1bad"), "weights"),
    (lambda raw: raw["weights"][1].update(name="dense_kernel"), "weights"),
    (lambda raw: raw["weights"][0].update(trainable="yes"), "weights[0]"),
    (lambda raw: raw["weights"][0].update(dtype="float64"), "dense_kernel"),
    (lambda raw: raw.update(weights={}), "weights"),
    (lambda raw: raw.update(num_classes="2"), "num_classes"),
])
def test_bad_fields_are_named(mutate, field: str) -> None:
    raw = json.loads(make_manifest().to_json())
    mutate(raw)
    with pytest.raises(ManifestError, match=re.escape(f"'{field}'")) as info:
        Manifest.from_json(json.dumps(raw))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", b"\xff\xfe"])
def test_non_object_json_is_rejected(text) -> None:
    with pytest.raises(ManifestError):
        Manifest.from_json(text)


def test_read_manifest_from_a_converted_model(digits_cnn_tflite) -> None:
    data = digits_cnn_tflite.read_bytes()
    manifest = read_manifest(data)
    assert manifest.model_id == "digits_cnn" and manifest.task == "classification" and manifest.num_classes == 10
    assert manifest.input == TensorSpec("x", (32, 8, 8, 1), "float32")
    assert manifest.label == TensorSpec("y", (32,), "int32")
    assert manifest.ops["builtin_only"] is True and manifest.ops["flex_ops"] == []
    assert manifest.parity["passed"] is True
    side_car = digits_cnn_tflite.with_name("digits_cnn.manifest.json").read_text()
    assert Manifest.from_json(side_car) == manifest


@pytest.mark.parametrize("cut", [0, 7, 100, 5000, -200, -1])
def test_read_manifest_rejects_truncated_files(digits_cnn_tflite, cut: int) -> None:
    data = digits_cnn_tflite.read_bytes()
    with pytest.raises(ManifestError):
        read_manifest(data[:cut])


def test_read_manifest_rejects_a_model_without_one(digits_cnn_tflite) -> None:
    data = bytearray(digits_cnn_tflite.read_bytes())
    position = data.find(b"fedlite_manifest")
    data[position : position + 7] = b"xxxxxxx"
    with pytest.raises(ManifestError, match="no 'fedlite_manifest' metadata"):
        read_manifest(bytes(data))
