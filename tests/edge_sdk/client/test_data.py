"""Local data loaders: .npz, CSV and class folders, validated against the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_sdk.client.data import load_data
from edge_sdk.client.errors import DataError
from tests.edge_sdk.client.helpers import make_manifest

MANIFEST = make_manifest()
RNG = np.random.default_rng(0)


def _npz(tmp_path: Path, x: np.ndarray, y: np.ndarray, name: str = "data.npz") -> Path:
    path = tmp_path / name
    np.savez(path, x=x, y=y)
    return path


def test_npz_is_cast_to_the_model_dtypes(tmp_path: Path) -> None:
    x, y = RNG.integers(0, 16, (20, 8, 8, 1)).astype(np.uint8), np.arange(20) % 10
    data = load_data(_npz(tmp_path, x, y), MANIFEST)
    assert (data.x.dtype, data.y.dtype, len(data)) == (np.float32, np.int32, 20)
    assert np.array_equal(data.x, x.astype(np.float32)) and np.array_equal(data.y, y)


def test_csv_with_a_named_label_column_is_reshaped(tmp_path: Path) -> None:
    x, y = RNG.random((5, 64)), np.array([3, 1, 4, 1, 5])
    header = ",".join([f"p{i}" for i in range(32)] + ["digit"] + [f"p{i}" for i in range(32, 64)])
    rows = [",".join([*map(str, row[:32]), str(label), *map(str, row[32:])]) for row, label in zip(x, y)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    data = load_data(path, MANIFEST, label_column="digit")
    assert data.x.shape == (5, 8, 8, 1) and data.y.tolist() == y.tolist()
    assert np.allclose(data.x.reshape(5, 64), x)


def test_class_folders_take_labels_from_folder_names(tmp_path: Path) -> None:
    for label in (2, 7):
        (tmp_path / str(label)).mkdir()
        for i in range(3):
            np.save(tmp_path / str(label) / f"{i}.npy", np.full((8, 8, 1), label, np.float32))
    data = load_data(tmp_path, MANIFEST)
    assert data.y.tolist() == [2, 2, 2, 7, 7, 7] and data.x[4, 0, 0, 0] == 7


def test_one_hot_models_get_one_hot_labels(tmp_path: Path) -> None:
    manifest = make_manifest(label_shape=(10,), label_dtype="float32")
    data = load_data(_npz(tmp_path, np.zeros((3, 8, 8, 1)), np.array([0, 9, 4])), manifest)
    assert data.y.shape == (3, 10) and data.y.argmax(axis=1).tolist() == [0, 9, 4]


def test_regression_labels_keep_their_values(tmp_path: Path) -> None:
    manifest = make_manifest(task="regression", num_classes=None, label_shape=(1,), label_dtype="float32")
    data = load_data(_npz(tmp_path, np.zeros((3, 8, 8, 1)), np.array([0.5, -2.0, 3.25])), manifest)
    assert data.y.shape == (3, 1) and data.y[:, 0].tolist() == [0.5, -2.0, 3.25]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((4, 8, 8)), np.zeros(4), r"shape \(8, 8\), the model expects \(8, 8, 1\)"),
        (np.zeros((4, 8, 8, 1)), np.array([0, 1, 2, 10]), r"labels range over \[0, 10\].*0\.\.9"),
        (np.zeros((4, 8, 8, 1)), np.array([0, 1, -1, 2]), r"labels range over \[-1, 2\]"),
        (np.zeros((4, 8, 8, 1)), np.array([0.0, 1.5, 2.0, 3.0]), "integer class indices"),
        (np.zeros((4, 8, 8, 1)), np.zeros(3), "4 examples but 3 labels"),
        (np.zeros((4, 8, 8, 1)), np.array(3), "4 examples but 0 labels"),
        (np.full((4, 8, 8, 1), np.nan), np.zeros(4), "NaN"),
        (np.array([["a"] * 64] * 4).reshape(4, 8, 8, 1), np.zeros(4), "dtype <U1"),
        (np.zeros((0, 8, 8, 1)), np.zeros(0), "no examples"),
    ],
)
def test_bad_npz_data_is_rejected_clearly(tmp_path: Path, x: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_data(_npz(tmp_path, x, y), MANIFEST)


def test_npz_without_the_expected_arrays(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros(3), labels=np.zeros(3))
    with pytest.raises(DataError, match=r"missing array\(s\) \['x', 'y'\]; found \['images', 'labels'\]"):
        load_data(path, MANIFEST)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "no label column 'label'"),
        ("label," + ",".join(f"p{i}" for i in range(64)) + "\n1,2\n", "line 2: 2 fields, the header has 65"),
        ("label,p0\n1,2\n", "1 feature columns, the model's input"),
        ("label,p0\nx,2\n", "line 2: could not convert"),
        ("label\n", "at least one example row"),
    ],
)
def test_bad_csv_is_rejected_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_data(path, MANIFEST)


def test_bad_paths_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "nope.npz", MANIFEST)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported data file"):
        load_data(tmp_path / "notes.txt", MANIFEST)
    (tmp_path / "cats").mkdir()
    with pytest.raises(DataError, match=r"named by its index.*\['cats'\]"):
        load_data(tmp_path, MANIFEST)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_data(tmp_path / "garbage.npz", MANIFEST)
