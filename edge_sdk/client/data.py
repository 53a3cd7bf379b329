"""Local training data: load it from disk and check it against the model's manifest.

Three layouts are understood:

* ``data.npz`` holding arrays ``x`` and ``y``;
* ``data.csv`` with a header row: one label column (``label`` unless named otherwise), every
  other column a feature, reshaped to the model's input shape;
* a folder with one sub-folder per class, named by the class index (``0/``, ``1/``, ...), each
  holding one ``.npy`` file per example.

Every problem raises :class:`~edge_sdk.client.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_sdk.client.errors import DataError
from edge_sdk.wire.manifest import Manifest


@dataclass(frozen=True)
class LocalData:
    """Examples ready for training: ``x`` and ``y`` already in the model's dtypes and shapes."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def load_data(path: str | Path, manifest: Manifest, *, label_column: str = "label") -> LocalData:
    """Load ``path`` (an .npz, a .csv or a class folder) and validate it against ``manifest``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data path {path} does not exist")
    if path.is_dir():
        x, y = _read_class_folder(path)
    elif path.suffix == ".npz":
        x, y = _read_npz(path)
    elif path.suffix == ".csv":
        x, y = _read_csv(path, label_column)
        x = _reshape_flat(x, manifest, path)
    else:
        raise DataError(f"{path}: unsupported data file; use .npz (x, y), .csv or a folder of class folders")
    return LocalData(_check_x(x, manifest, path), _check_y(y, len(x), manifest, path))


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "y"} - set(archive.files)
            if missing:
                raise DataError(f"{path}: missing array(s) {sorted(missing)}; found {sorted(archive.files)}")
            return archive["x"], archive["y"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None


def _read_csv(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one example row")
    header, body = rows[0], rows[1:]
    if label_column not in header:
        raise DataError(f"{path}: no label column {label_column!r}; columns are {header[:10]}")
    label_at = header.index(label_column)
    table = _csv_numbers(body, len(header), path)
    return np.delete(table, label_at, axis=1), table[:, label_at]


def _csv_numbers(rows: list[list[str]], width: int, path: Path) -> np.ndarray:
    table = np.empty((len(rows), width), dtype=np.float64)
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {width}")
        try:
            table[line - 2] = [float(cell) for cell in row]
        except ValueError as exc:
            raise DataError(f"{path}, line {line}: {exc}") from None
    return table


def _read_class_folder(path: Path) -> tuple[np.ndarray, np.ndarray]:
    classes = sorted(child for child in path.iterdir() if child.is_dir())
    bad = [child.name for child in classes if not child.name.isdigit()]
    if not classes or bad:
        raise DataError(f"{path}: expected one sub-folder per class named by its index (0, 1, ...); found {bad or 'none'}")
    examples, labels = [], []
    for folder in classes:
        for file in sorted(folder.glob("*.npy")):
            examples.append(_read_npy(file))
            labels.append(int(folder.name))
    if not examples:
        raise DataError(f"{path}: the class folders hold no .npy files")
    shapes = {example.shape for example in examples}
    if len(shapes) > 1:
        raise DataError(f"{path}: examples have different shapes {sorted(shapes)[:3]}")
    return np.stack(examples), np.asarray(labels)


def _read_npy(file: Path) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not a readable .npy array ({exc})") from None


def _reshape_flat(x: np.ndarray, manifest: Manifest, path: Path) -> np.ndarray:
    example_shape = manifest.input.shape[1:]
    if x.shape[1] != math.prod(example_shape):
        raise DataError(
            f"{path}: {x.shape[1]} feature columns, the model's input {example_shape} needs {math.prod(example_shape)}"
        )
    return x.reshape((len(x), *example_shape))


def _check_x(x: np.ndarray, manifest: Manifest, path: Path) -> np.ndarray:
    example_shape = manifest.input.shape[1:]
    if x.ndim == 0 or x.shape[1:] != example_shape:
        raise DataError(f"{path}: examples have shape {x.shape[1:]}, the model expects {example_shape}")
    if len(x) == 0:
        raise DataError(f"{path}: holds no examples")
    _check_castable(x, manifest.input.dtype, f"{path}: x")
    x = x.astype(manifest.input.dtype, copy=False)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{path}: x contains NaN or infinite values")
    return x


def _check_castable(array: np.ndarray, dtype: str, what: str) -> None:
    if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise DataError(f"{what} has dtype {array.dtype}, which does not convert to the model's {dtype}")


def _check_y(y: np.ndarray, count: int, manifest: Manifest, path: Path) -> np.ndarray:
    labels = len(y) if y.ndim else 0
    if labels != count:
        raise DataError(f"{path}: {count} examples but {labels} labels")
    _check_castable(y, "float64", f"{path}: y")
    if manifest.task == "regression":
        return _fit_shape(y, manifest, path).astype(manifest.label.dtype, copy=False)
    return _class_labels(y, manifest, path)


def _class_labels(y: np.ndarray, manifest: Manifest, path: Path) -> np.ndarray:
    classes = 2 if manifest.task == "binary" else manifest.num_classes or 0
    label_shape = manifest.label.shape[1:]
    indices = _class_indices(y, label_shape, path)
    low, high = indices.min(), indices.max()
    if low < 0 or high >= classes:
        raise DataError(f"{path}: labels range over [{low:g}, {high:g}], the model has classes 0..{classes - 1}")
    if label_shape not in ((), (1,)):
        return np.eye(classes, dtype=manifest.label.dtype)[indices.astype(np.int64)]
    return indices.reshape((len(y), *label_shape)).astype(manifest.label.dtype)


def _class_indices(y: np.ndarray, label_shape: tuple[int, ...], path: Path) -> np.ndarray:
    """Integer class indices from labels given as indices, an (N, 1) column or one-hot rows."""
    if y.ndim == 2 and y.shape[1:] == label_shape != (1,):
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"{path}: labels of shape {y.shape} must be one-hot rows")
        return y.argmax(axis=1)
    indices = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if indices.ndim != 1 or not np.all(indices == np.round(indices)):
        raise DataError(f"{path}: labels must be integer class indices of shape (N,), got shape {y.shape} {y.dtype}")
    return indices


def _fit_shape(y: np.ndarray, manifest: Manifest, path: Path) -> np.ndarray:
    label_shape = manifest.label.shape[1:]
    if y.shape[1:] == label_shape:
        return y
    if math.prod(y.shape[1:]) == math.prod(label_shape):
        return y.reshape((len(y), *label_shape))
    raise DataError(f"{path}: labels have shape {y.shape[1:]}, the model expects {label_shape}")
