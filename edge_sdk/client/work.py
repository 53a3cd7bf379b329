"""The work behind each action of the round machine: check in, download, train, upload, abandon.

Each method does its I/O and returns the event to feed back into the machine; failures raise
and are classified by the driver (:mod:`edge_sdk.client.client`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import edge_sdk
from edge_sdk.client import round as r
from edge_sdk.client.api import ServerAPI
from edge_sdk.client.data import LocalData, load_data
from edge_sdk.client.downloads import Downloads
from edge_sdk.client.eligibility import EligibilityHooks, EligibilityPolicy
from edge_sdk.client.errors import ClientError
from edge_sdk.client.state import StateDir
from edge_sdk.client.training import commit_update, discard_update, encode_and_store, train, update_path
from edge_sdk.wire import protocol
from edge_sdk.wire.manifest import Manifest, read_manifest

Report = Callable[..., None]


def runtime_name() -> str:
    """The TFLite runtime this device trains with, e.g. ``ai-edge-litert 2.3.0``."""
    from edge_sdk.runtime import load_runtime

    return str(load_runtime()[1])


class RoundWork:
    """Performs :mod:`edge_sdk.client.round` actions against the server and the state directory."""

    def __init__(self, state_dir: StateDir, api: ServerAPI, *, data_path: Path, label_column: str,
                 hooks: EligibilityHooks, policy: EligibilityPolicy, report: Report, stop: threading.Event) -> None:
        self.state_dir = state_dir
        self.api = api
        self.data_path = data_path
        self.label_column = label_column
        self.hooks = hooks
        self.policy = policy
        self.report = report
        self.stop = stop
        self.downloads = Downloads(state_dir, api, report)
        self._data: tuple[Manifest, LocalData] | None = None

    def perform(self, action: r.Action) -> r.Event:
        """Do ``action``; the event that reports how it went."""
        if isinstance(action, r.CheckIn):
            return self.check_in()
        if isinstance(action, r.Download):
            return self.download(action.task)
        if isinstance(action, r.Train):
            return self.train(action.task)
        if isinstance(action, r.Upload):
            return self.upload(action.task, action.update_sha256)
        if isinstance(action, r.Abandon):
            return self.abandon(action.task, action.reason)
        raise TypeError(f"no work for action {action!r}")

    def check_in(self) -> r.Event:
        """Report eligibility and cache; the server's answer (or NotEligible, without asking)."""
        eligibility = self.hooks.snapshot()
        unmet = self.policy.unmet(eligibility)
        if unmet:
            self.report("checkin", action="skipped", unmet=unmet)
            return r.NotEligible(tuple(unmet))
        message = protocol.CheckinRequest(eligibility, self.downloads.cached_model_sha256(),
                                          self.downloads.cached_weights_version(), edge_sdk.__version__,
                                          runtime_name())
        answer = self.api.checkin(message)
        details: dict[str, Any] = (
            {"round": answer.task.round} if isinstance(answer, protocol.TrainResponse) else {"reason": answer.reason}
        )
        self.report("checkin", action=answer.action, **details)
        return answer

    def download(self, task: protocol.Task) -> r.Event:
        """Fetch and verify the task's model and base weights."""
        model = self.downloads.model(task.model)
        self.downloads.weights(task.weights, _manifest(model).weights)
        return r.Downloaded()

    def train(self, task: protocol.Task) -> r.Event:
        """Train on the local data, then encode and store the update."""
        model = self.downloads.model(task.model)
        manifest = _manifest(model)
        weights = self.downloads.weights(task.weights, manifest.weights)
        data = self._local_data(manifest)
        delta, metrics = train(model, weights, data, task, report=self.report, stop=self.stop)
        digest = encode_and_store(self.state_dir, task, delta, len(data), metrics)
        self.report("encoded", round=task.round, bytes=self.state_dir.path(update_path(task)).stat().st_size)
        return r.Trained(digest)

    def upload(self, task: protocol.Task, update_sha256: str) -> r.Event:
        """Send the stored update (the same bytes on every attempt) and commit its residual."""
        body = self.state_dir.read_bytes(update_path(task))
        if body is None or hashlib.sha256(body).hexdigest() != update_sha256:
            raise ClientError(f"the stored update of round {task.round} is missing or damaged")
        ack = self.api.upload(task.upload.url, body)
        commit_update(self.state_dir, task)
        self.report("upload", round=task.round, bytes=len(body), status=ack.status)
        return r.Uploaded(ack.status)

    def abandon(self, task: protocol.Task, reason: str) -> r.Event:
        """Forget the task's update and residual."""
        discard_update(self.state_dir, task)
        self.report("abandon", round=task.round, reason=reason)
        return r.Abandoned(reason)

    def _local_data(self, manifest: Manifest) -> LocalData:
        if self._data is None or self._data[0] != manifest:
            data = load_data(self.data_path, manifest, label_column=self.label_column)
            self._data = (manifest, data)
            self.report("data", examples=len(data), path=str(self.data_path))
        return self._data[1]


def _manifest(model: Path) -> Manifest:
    return read_manifest(model.read_bytes())
