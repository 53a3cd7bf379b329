"""The server's request operations, independent of HTTP: enrol, check in, download, upload.

``Engine`` wires the ledger, blob store, update log, group committer, authenticator and round
driver together. Every method either completes its state change durably or raises
:class:`server.errors.ApiError` having changed nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edge_sdk.signing import decode_public_key
from edge_sdk.wire import protocol as p
from edge_sdk.wire.manifest import read_manifest
from server import codec
from server import ledger_ops as ops
from server.auth import Authenticator
from server.committer import GroupCommitter
from server.config import ServerConfig
from server.coordinator import Admit, Resume, Select, Wait
from server.errors import ApiError
from server.ingest import CheckedUpdate, Rejected
from server.ledger import Ledger, TaskRow
from server.metrics import Metrics
from server.rounds import RoundDriver, Weights, task_ref, weights_key
from server.storage import FileBlobStore, FileUpdateLog

TICK_S = 0.2
TASK_CACHE = 100_000
LOG = logging.getLogger("fedlite.server")


class Engine:
    """One server's state and operations; see the module docstring."""

    def __init__(self, config: ServerConfig, model_bytes: bytes, *,
                 on_published: Callable[[int, Weights, dict[str, Any]], None] = lambda *_: None) -> None:
        self.config = config
        self.model_sha256 = hashlib.sha256(model_bytes).hexdigest()
        self.manifest = read_manifest(model_bytes)
        data = Path(config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(data / "ledger.sqlite3")
        self.blobs = FileBlobStore(data / "blobs")
        self.log = FileUpdateLog(data / "updates")
        self.committer = GroupCommitter(self.ledger, self.log)
        self.metrics = Metrics()
        self.rounds = RoundDriver(config, self.manifest, self.ledger, self.blobs, self.log, self.committer,
                                  self.metrics, on_published)
        self._store_model(model_bytes)
        self._uploads_in_flight = 0
        self._task_locks: dict[str, asyncio.Lock] = {}
        self._pending_nonces: list[tuple[str, str, float]] = []
        self._pending_tasks: dict[str, TaskRow] = {}
        self._tasks: dict[str, TaskRow] = {}
        self._versions: dict[int, dict[str, Any]] = {}
        self._model_size = len(model_bytes)
        self._admin_epoch = self.ledger.get("admin_epoch", 0)
        self.history: Any = None
        self.ready = False

    def _store_model(self, model_bytes: bytes) -> None:
        known = self.ledger.get("model_sha256")
        if known is not None and known != self.model_sha256:
            raise ValueError(f"data directory {self.config.data_dir} belongs to model {known[:12]}…, "
                             f"not {self.model_sha256[:12]}…; use a fresh --data-dir")
        key = f"models/{self.model_sha256}.tflite"
        if not self.blobs.exists(key):
            self.blobs.put(key, model_bytes)
        self.ledger.write(ops.init_settings(self.model_sha256, secrets.token_hex(16)))
        self._seed_key = self.ledger.get("seed_key")

    def open(self, initial_weights: Callable[[], Weights], now: float | None = None) -> None:
        """Load (or create) the durable state and rebuild the open round; call once, before serving."""
        now = time.time() if now is None else now
        if self.ledger.latest_version() is None:
            self.rounds.publish_initial(initial_weights(), now)
        self.rounds.restore(now)
        self.auth = Authenticator(self.ledger.devices(), rate=self.config.devices.rate_per_s,
                                  burst=self.config.devices.burst)
        self.auth.restore_nonces(self.ledger.live_nonces(now))
        self.committer.start()
        self.ready = True

    def close(self) -> None:
        """Stop the worker threads, store the pending nonces, close files."""
        self.ready = False
        self.rounds.close()
        self.committer.stop()
        pending, self._pending_nonces = self._pending_nonces, []
        self.ledger.write(ops.store_nonces(pending, time.time()))
        self.log.close()

    async def run_ticker(self) -> None:
        """The timing driver: ends rounds, flushes nonces, notices operator changes."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick(time.time())
            except Exception:  # keep driving rounds; the error is logged with its traceback
                LOG.exception("timing driver step failed")

    async def tick(self, now: float) -> None:
        """One step of the timing driver."""
        await self.rounds.tick(now)
        await self._flush_nonces()
        self._reload_if_admin_changed()

    # ------------------------------------------------------------------ auth helpers

    def note_nonce(self, device_id: str, nonce: str, now: float) -> None:
        """Queue a used nonce for the ledger (flushed by the ticker)."""
        self._pending_nonces.append((device_id, nonce, now + p.NONCE_TTL_S))

    async def _flush_nonces(self) -> None:
        pending, self._pending_nonces = self._pending_nonces, []
        if pending:
            await self.committer.submit(ops.store_nonces(pending, time.time()))

    def _reload_if_admin_changed(self) -> None:
        epoch = self.ledger.get("admin_epoch", 0)
        if epoch != self._admin_epoch:
            self._admin_epoch = epoch
            self.auth.reload(self.ledger.devices())

    # ------------------------------------------------------------------ enrolment

    async def enroll(self, request: p.EnrollRequest, signed: Mapping[str, str], target: str, body: bytes,
                     now: float) -> tuple[int, p.EnrollResponse]:
        """Register a device (201), or return the id of an already enrolled key (200)."""
        try:
            public_key = decode_public_key(request.public_key)
        except ValueError as exc:
            raise ApiError("invalid_field", f"field 'public_key' {exc}") from exc
        self.auth.verify_enrolment(public_key, signed, target, body, now)
        device_id = "dev_" + secrets.token_hex(12)
        status, device_id = await self.committer.submit(ops.enroll_device(request, public_key, device_id, now))
        if status == 201:
            self.auth.add_device(device_id, public_key)
            self.metrics.inc("fedlite_enrollments_total")
        return status, p.EnrollResponse(device_id, int(now))

    # ------------------------------------------------------------------ check-in

    async def checkin(self, device_id: str, request: p.CheckinRequest, now: float) -> p.CheckinResponse:
        """Answer a check-in with a task or a retry window."""
        decision = self.rounds.coordinator.checkin(device_id, self._eligible(request.eligibility), now)
        if isinstance(decision, Wait):
            self.metrics.inc("fedlite_checkins_total", answer=decision.reason)
            return p.WaitResponse(decision.retry_min, decision.retry_max, decision.reason)
        if isinstance(decision, Resume):
            task = self._pending_tasks.get(decision.task_id) or self._task(decision.task_id)
        else:
            task = await self._new_task(device_id, decision)
        self.metrics.inc("fedlite_checkins_total", answer="train")
        return p.TrainResponse(self._task_message(task))

    def _task(self, task_id: str) -> TaskRow | None:
        """A task by id (tasks are immutable, so lookups are cached)."""
        task = self._tasks.get(task_id)
        if task is None:
            task = self.ledger.task(task_id)
            if task is not None:
                self._remember(task)
        return task

    def _remember(self, task: TaskRow) -> None:
        if len(self._tasks) >= TASK_CACHE:
            self._tasks.clear()
        self._tasks[task.task_id] = task

    def _version(self, version: int) -> dict[str, Any]:
        if version not in self._versions:
            self._versions[version] = self.ledger.version_info(version)
        return self._versions[version]

    def _eligible(self, eligibility: p.Eligibility) -> bool:
        rules = self.config.devices
        return ((eligibility.charging or not rules.require_charging)
                and (eligibility.unmetered or not rules.require_unmetered)
                and (eligibility.idle or not rules.require_idle))

    async def _new_task(self, device_id: str, decision: Select) -> TaskRow:
        task = TaskRow("tsk_" + secrets.token_urlsafe(12), device_id, decision.round, decision.base_version,
                       secrets.randbelow(2**32), decision.deadline)
        ref = task_ref(task)
        self.rounds.coordinator.assigned(ref)
        self._pending_tasks[task.task_id] = task
        try:
            await self.committer.submit(ops.insert_task(task, time.time()))
        except Exception:
            self.rounds.coordinator.unassigned(ref)
            raise
        finally:
            del self._pending_tasks[task.task_id]
        self._remember(task)
        return task

    def _task_message(self, task: TaskRow) -> p.Task:
        training = self.config.training
        encoding = training.weights_encoding
        info = self._version(task.base_version)[encoding]
        return p.Task(
            task_id=task.task_id, round=task.round, base_version=task.base_version,
            model=p.ModelRef(self.model_sha256, self._model_size, f"/v1/models/{self.model_sha256}"),
            weights=p.WeightsRef(task.base_version, info["sha256"], info["size"],
                                 f"/v1/weights/{task.base_version}?encoding={encoding}", encoding),
            codec=p.CodecRef(training.codec, task.seed, self._rotation_seed(task.round)),
            train=p.TrainParams(training.epochs, self.manifest.batch_size, training.learning_rate),
            deadline=int(task.deadline),
            upload=p.UploadRef(f"/v1/tasks/{task.task_id}/update", self.rounds.max_update_bytes),
        )

    def _rotation_seed(self, round_number: int) -> int:
        digest = hashlib.sha256(f"{self._seed_key}:{round_number}".encode()).digest()
        return int.from_bytes(digest[:4], "little")

    # ------------------------------------------------------------------ downloads

    def model_path(self, sha256: str) -> Path:
        """The stored model file for ``sha256``."""
        if sha256 != self.model_sha256:
            raise ApiError("unknown_model", f"no model with sha256 {sha256[:16]}…")
        return self.blobs.root / f"models/{sha256}.tflite"

    def weights_body(self, version: int, encoding: str) -> bytes:
        """The weights bundle of ``version`` in ``encoding``."""
        if encoding not in codec.ENCODINGS:
            raise ApiError("invalid_query", "encoding must be fp32 or fp16")
        key = weights_key(version, encoding)
        if self.ledger.version_info(version) is None or not self.blobs.exists(key):
            raise ApiError("unknown_weights", f"no weights with version {version}")
        return self.blobs.get(key)

    # ------------------------------------------------------------------ uploads

    async def upload(self, device_id: str, task_id: str, body: bytes, digest: str) -> p.UploadAck:
        """Validate, store durably and count one update whose hex sha256 is ``digest`` (§4.5)."""
        task = self._task(task_id)
        if task is None or task.device_id != device_id:
            raise ApiError("unknown_task", f"no task {task_id!r} for this device")
        lock = self._task_locks.setdefault(task_id, asyncio.Lock())
        try:
            async with lock:
                return await self._upload_locked(task, body, digest)
        finally:
            if not lock.locked():
                self._task_locks.pop(task_id, None)

    async def _upload_locked(self, task: TaskRow, body: bytes, digest: str) -> p.UploadAck:
        prior = self.ledger.update_of(task.task_id)
        if prior is not None:
            return self._repeat(task, prior.body_sha256, digest)
        if self._uploads_in_flight >= self.config.devices.max_inflight_uploads:
            raise ApiError("rate_limited", "too many uploads in flight; retry shortly", retry_after=1)
        self._uploads_in_flight += 1
        try:
            checked = await self.rounds.in_worker(self.rounds.check, task, body, self.config.training.norm_bound)
            verdict = await self.rounds.admit(task, time.time)
            if not isinstance(verdict, Admit):
                code = "rate_limited" if verdict.code == "full" else verdict.code
                self.rounds.reject(code)
                raise ApiError(code, _REFUSALS[code], retry_after=1 if code == "rate_limited" else None)
            await asyncio.shield(self._store(task, body, digest, checked, verdict))
        except Rejected as exc:
            self.rounds.reject(exc.reason)
            raise
        finally:
            self._uploads_in_flight -= 1
        return p.UploadAck("accepted", task.task_id, task.round)

    def _repeat(self, task: TaskRow, prior: str, digest: str) -> p.UploadAck:
        if prior != digest:
            self.rounds.reject("conflict")
            raise ApiError("update_conflict", "a different update was already accepted for this task")
        self.metrics.inc("fedlite_updates_duplicate_total")
        return p.UploadAck("duplicate", task.task_id, task.round)

    async def _store(self, task: TaskRow, body: bytes, digest: str, checked: CheckedUpdate, verdict: Admit) -> None:
        operation = ops.insert_update(task, verdict.round, digest, len(body), checked.meta, verdict.factor,
                                      time.time())
        try:
            await self.committer.submit(operation, append=(verdict.round, body))
        except BaseException:
            self.rounds.coordinator.release()
            raise
        await self.rounds.count(task, checked, verdict.factor, len(body))
        await self.rounds.tick(time.time())


_REFUSALS = {
    "round_closed": "the task's round is closed; the update was not counted",
    "stale_base": "the update's base version is older than the maximum staleness allows",
    "rate_limited": "the update buffer is being aggregated; retry shortly",
}
