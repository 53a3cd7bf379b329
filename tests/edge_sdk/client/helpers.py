"""Small builders shared by the device-client tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_sdk.wire.manifest import Manifest, TensorSpec, WeightSpec
from server.ledger import Ledger
from tests.support.live_server import LiveServer


def make_manifest(example_shape: tuple[int, ...] = (8, 8, 1), *, task: str = "classification",
                  num_classes: int | None = 10, label_shape: tuple[int, ...] = (),
                  label_dtype: str = "int32", batch: int = 4) -> Manifest:
    """A small valid manifest for tests that need specs but no model."""
    weights = (WeightSpec("dense_kernel", (64, 10), "float32", True, "dense/kernel"),
               WeightSpec("dense_bias", (10,), "float32", True, "dense/bias"))
    return Manifest(
        format_version=1, model_id="test", graph_sha256="0" * 64,
        input=TensorSpec("x", (batch, *example_shape), "float32"),
        label=TensorSpec("y", (batch, *label_shape), label_dtype),
        output=TensorSpec("out", (batch, 10), "float32"),
        batch_size=batch, task=task, num_classes=num_classes, weights=weights,
        loss={}, optimizer={}, ops={}, signatures=("train",), frozen_parameters=0,
    )


def write_digits(path: Path, count: int = 200) -> Path:
    """``count`` training digits as ``path`` (.npz with x and y)."""
    from fedlite.examples import load_digits_split

    x, y, _, _ = load_digits_split()
    np.savez(path, x=x[:count], y=y[:count])
    return path


def ledger_rows(server: LiveServer | Path, sql: str) -> list[tuple]:
    """The rows ``sql`` selects from the ledger of a server (or of its data dir)."""
    data_dir = server if isinstance(server, Path) else server.data_dir
    ledger = Ledger(data_dir / "ledger.sqlite3")
    try:
        return ledger.query(sql)
    finally:
        ledger.close()


def accepted_updates(server: LiveServer | Path, device_id: str | None = None) -> list[tuple[str, int, str]]:
    """(device_id, round, body_sha256) of every update the ledger of a server (or data dir) accepted."""
    rows = ledger_rows(server, "SELECT device_id, round, body_sha256 FROM updates ORDER BY rowid")
    return [row for row in rows if device_id is None or row[0] == device_id]


def enrolled_devices(server: LiveServer) -> int:
    """How many devices the server's ledger knows."""
    return ledger_rows(server, "SELECT COUNT(*) FROM devices")[0][0]
