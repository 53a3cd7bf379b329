"""One round of local work: train from the global weights, then encode the delta for upload.

The encoded update and the error-feedback residual it leaves are written to the state directory
before the round moves on to uploading; the residual becomes the committed one only when the
server has acknowledged the update (:func:`commit_update`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_sdk.client.data import LocalData
from edge_sdk.client.errors import ClientError
from edge_sdk.client.state import StateDir
from edge_sdk.wire.presets import get_preset
from edge_sdk.wire.update import encode_update
from edge_sdk.wire.protocol import Task, UpdateMeta, to_dict

Report = Callable[..., None]


class Interrupted(ClientError):
    """Training stopped because the device was asked to stop; the round resumes on restart."""


class UpdateTooLarge(ClientError, ValueError):
    """The encoded update exceeds the task's upload limit."""


def update_path(task: Task) -> str:
    """Where the encoded update of ``task`` waits for its upload."""
    return f"updates/{task.task_id}.bin"


def _pending_residual(task: Task) -> str:
    return f"updates/{task.task_id}.residual.npz"


def _residual(task: Task) -> str:
    return f"residuals/{task.model.sha256}.npz"


def train(
    model_path: Path, weights: dict[str, np.ndarray], data: LocalData, task: Task,
    *, report: Report, stop: threading.Event,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Train ``task.train.epochs`` epochs from ``weights``; the trainable weights' delta and metrics."""
    from edge_sdk.model import TrainableModel

    model = TrainableModel(model_path)
    model.set_weights(weights)
    model.reset_optimizer()
    if task.train.learning_rate is not None:
        model.learning_rate = task.train.learning_rate
    loss = float("nan")
    for epoch in range(task.train.epochs):
        if stop.is_set():
            raise Interrupted(f"stopped before epoch {epoch + 1} of round {task.round}")
        loss = float(model.fit(data.x, data.y, epochs=1, shuffle=True, seed=task.codec.seed + epoch)[-1])
        report("epoch", round=task.round, epoch=epoch + 1, epochs=task.train.epochs, loss=loss)
    local = model.get_weights()
    delta = {spec.name: local[spec.name] - weights[spec.name] for spec in model.manifest.trainable_weights}
    return delta, {"loss": loss}


def encode_and_store(
    state: StateDir, task: Task, delta: dict[str, np.ndarray], num_examples: int, metrics: dict[str, float]
) -> str:
    """Encode ``delta`` with the task's codec, persist it and its residual; the body's sha256."""
    residual = _usable_residual(state.read_arrays(_residual(task)), delta)
    meta = to_dict(UpdateMeta(task.task_id, task.round, task.base_version, num_examples, metrics))
    body, new_residual = encode_update(delta, get_preset(task.codec.preset), seed=task.codec.seed,
                                       rotation_seed=task.codec.rotation_seed, meta=meta, residual=residual)
    if len(body) > task.upload.max_bytes:
        raise UpdateTooLarge(f"encoded update is {len(body)} bytes, the task allows {task.upload.max_bytes}")
    if new_residual:
        state.write_arrays(_pending_residual(task), new_residual)
    state.write_bytes(update_path(task), body)
    return hashlib.sha256(body).hexdigest()


def _usable_residual(residual: dict[str, np.ndarray] | None,
                     delta: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The stored residual if it fits ``delta`` tensor for tensor; else start error feedback afresh."""
    if residual is None or set(residual) != set(delta):
        return None
    return residual if all(residual[name].shape == delta[name].shape for name in delta) else None


def commit_update(state: StateDir, task: Task) -> None:
    """The server has the update: its residual becomes the committed one, its bytes go."""
    pending = _pending_residual(task)
    if state.path(pending).exists():
        state.rename(pending, _residual(task))
        state.keep_only("residuals", {_residual(task).split("/")[1]})
    discard_update(state, task)


def discard_update(state: StateDir, task: Task) -> None:
    """Forget the update of ``task`` and its residual (abandoned or acknowledged)."""
    state.remove(_pending_residual(task))
    state.remove(update_path(task))
