"""Virtual devices: the device side of the real protocol, many to a process, one interpreter for all.

Each :class:`VirtualDevice` has its own Ed25519 key and device id, its share of the data (indices
into one shared array), its error-feedback residual, and its own signing layer
(``edge_sdk.client.api.SigningTransport``) over a transport shared with every other device. It
enrols, checks in, downloads, trains and uploads exactly as ``edge_sdk.Client`` does, minus the
state directory and journal that a real device keeps on disk.

:class:`SharedTrainer` holds the one ``TrainableModel`` the whole fleet trains on: a device's turn
swaps the task's base weights in, trains on the device's data and takes the delta out, so a fleet
of thousands needs one TFLite interpreter, not thousands.
"""

from __future__ import annotations

import hashlib
import platform
from typing import Any

import numpy as np

import edge_sdk
from edge_sdk.client.api import ServerAPI, SigningTransport
from edge_sdk.client.errors import IntegrityError, ServerError
from edge_sdk.client.transport import Transport
from edge_sdk.signing import DeviceKey
from edge_sdk.wire import decode_weights, encode_update, get_preset
from edge_sdk.wire.protocol import (
    HEADER_SHA256,
    CheckinRequest,
    CheckinResponse,
    Eligibility,
    EnrollRequest,
    ModelRef,
    Task,
    UpdateMeta,
    to_dict,
)

READY = Eligibility(charging=True, unmetered=True, idle=True)
Weights = dict[str, np.ndarray]


def _verified(body: bytes, sha256: str, what: str) -> bytes:
    if hashlib.sha256(body).hexdigest() != sha256:
        raise IntegrityError(f"{what} does not match its sha256")
    return body


class SharedTrainer:
    """One model for the whole fleet, fetched (and verified) once by the first device that needs it."""

    def __init__(self) -> None:
        self.model: Any = None
        self.model_sha256: str | None = None
        self.runtime = "unknown"

    def ensure_model(self, api: ServerAPI, ref: ModelRef) -> None:
        """Download the task's model graph if the fleet's cache does not hold it yet."""
        if self.model_sha256 == ref.sha256:
            return
        from edge_sdk.model import TrainableModel

        self.model = TrainableModel(_verified(api.get(ref.url).body, ref.sha256, "the model"), num_threads=1)
        self.model_sha256 = ref.sha256
        self.runtime = str(self.model.runtime)

    def base_weights(self, api: ServerAPI, task: Task) -> Weights:
        """Download and verify the task's base weights."""
        response = api.get(task.weights.url)
        body = _verified(response.body, task.weights.sha256, f"weights version {task.weights.version}")
        if response.header(HEADER_SHA256.lower()) not in (None, task.weights.sha256):
            raise IntegrityError("the weights' sha256 header does not match the task")
        return decode_weights(body, self.model.manifest.weights)[1]

    def train(self, base: Weights, x: np.ndarray, y: np.ndarray, task: Task,
              shuffle_seed: int) -> tuple[Weights, dict[str, float]]:
        """Train from ``base`` as the task asks, shuffling with ``shuffle_seed``; the trainable weights'
        delta and the last epoch's loss."""
        model = self.model
        model.set_weights(base)
        model.reset_optimizer()
        if task.train.learning_rate is not None:
            model.learning_rate = task.train.learning_rate
        losses = model.fit(x, y, epochs=task.train.epochs, shuffle=True, seed=shuffle_seed)
        trained = model.get_weights()
        delta = {spec.name: trained[spec.name] - base[spec.name] for spec in model.manifest.trainable_weights}
        return delta, {"loss": float(losses[-1])}


class VirtualDevice:
    """One simulated device; see the module docstring."""

    def __init__(self, index: int, examples: np.ndarray, transport: Transport, speed: float, seed: int = 0) -> None:
        self.index = index
        self.examples = examples
        self.speed = speed
        self.seed = seed
        self.key = DeviceKey.generate()
        self.signer = SigningTransport(transport, self.key)
        self.api = ServerAPI(self.signer)
        self.residual: Weights | None = None
        self.weights_version: int | None = None

    @property
    def device_id(self) -> str | None:
        """The id the server gave this device."""
        return self.signer.device_id

    def enrol(self, token: str, runtime: str) -> None:
        """Trade ``token`` for a device id."""
        request = EnrollRequest(token, self.key.public_key_b64, f"simulated-{platform.machine()}",
                                edge_sdk.__version__, runtime)
        self.signer.device_id = self.api.enroll(request).device_id

    def check_in(self, trainer: SharedTrainer) -> CheckinResponse:
        """Ask for work, reporting the fleet's cached model and this device's newest weights."""
        request = CheckinRequest(READY, trainer.model_sha256, self.weights_version, edge_sdk.__version__,
                                 trainer.runtime)
        return self.api.checkin(request)

    def make_update(self, trainer: SharedTrainer, task: Task, x: np.ndarray, y: np.ndarray) -> tuple[bytes, Weights]:
        """Download, train and encode the task's update; (body, the residual it leaves)."""
        trainer.ensure_model(self.api, task.model)
        base = trainer.base_weights(self.api, task)
        self.weights_version = task.base_version
        shuffle_seed = int(np.random.SeedSequence([self.seed, self.index, task.round]).generate_state(1)[0])
        delta, metrics = trainer.train(base, x[self.examples], y[self.examples], task, shuffle_seed)
        meta = to_dict(UpdateMeta(task.task_id, task.round, task.base_version, len(self.examples), metrics))
        return encode_update(delta, get_preset(task.codec.preset), seed=task.codec.seed,
                             rotation_seed=task.codec.rotation_seed, meta=meta, residual=self.residual)

    def upload(self, task: Task, body: bytes, residual: Weights) -> str:
        """PUT the update: ``accepted``/``duplicate`` (the residual is kept), or the refusal's error code."""
        try:
            status = self.api.upload(task.upload.url, body).status
        except ServerError as exc:
            if exc.status != 409:
                raise
            return exc.code
        self.residual = residual or None
        return status
