"""The thin driver around the coordinator: counts updates, ends rounds, publishes versions.

Durability design (docs/server.md): an accepted update's body is appended to its round's
update log and its ledger row is committed before the device gets ``202``; only then is it
added to the in-memory running sum. After a crash the sum is rebuilt from the logged bodies of
the open round's committed rows, so every acknowledged update counts exactly once. A round is
published by writing the new weights and optimiser state as blobs, then committing the version
row, the round's outcome and the next round in one transaction; only then is the log dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge_sdk.wire.manifest import Manifest
from server import codec
from server import ledger_ops as ops
from server.aggregation import Aggregator, RoundAccumulator
from server.committer import GroupCommitter
from server.config import ServerConfig
from server.coordinator import Coordinator, TaskRef
from server.ingest import CheckedUpdate, check_update
from server.ledger import Ledger, TaskRow
from server.metrics import Metrics
from server.storage import FileBlobStore, FileUpdateLog
from server.worker import SerialWorker

Weights = dict[str, np.ndarray]
LOG = logging.getLogger("fedlite.server")


def weights_key(version: int, encoding: str) -> str:
    """Blob key of a version's weights bundle."""
    return f"weights/{version}.{encoding}"


class RoundDriver:
    """Owns the coordinator, the running sums and the global weights."""

    def __init__(self, config: ServerConfig, manifest: Manifest, ledger: Ledger, blobs: FileBlobStore,
                 log: FileUpdateLog, committer: GroupCommitter, metrics: Metrics,
                 on_published: Callable[[int, Weights, dict[str, Any]], None]) -> None:
        self.config = config
        self.manifest = manifest
        self.trainable = manifest.trainable_weights
        self.ledger, self.blobs, self.log, self.committer = ledger, blobs, log, committer
        self.metrics = metrics
        self.on_published = on_published
        self.aggregator = Aggregator(config.aggregation, config.rounds.target)
        self.max_update_bytes = codec.max_update_bytes(self.trainable, config.training.codec)
        self.rejections: dict[str, int] = {}
        self.round_started = time.monotonic()
        self._ending = asyncio.Lock()
        self._worker = SerialWorker("fedlite-sum")
        self._version_changed = asyncio.Event()

    # ------------------------------------------------------------------ start-up

    def publish_initial(self, weights: Weights, now: float) -> None:
        """Store version 0 and open round 1 (first start of a fresh data directory)."""
        info = self._write_version(0, weights)
        self.ledger.write(ops.finish_round(0, None, now, info, None, 1))

    def restore(self, now: float) -> None:
        """Load the newest version and the open round, and rebuild the round's running sum."""
        self.version = self.ledger.latest_version()
        info = self.ledger.version_info(self.version)
        self.weights = codec.decode_weights(self.blobs.get(weights_key(self.version, "fp32")), self.manifest.weights)
        if info.get("state"):
            self.aggregator.load_state_bytes(self.blobs.get(info["state"]))
        number, _, opened_at = self.ledger.open_round()
        self.coordinator = Coordinator(self.config.rounds, round_number=number, version=self.version, now=opened_at)
        self.coordinator.finished |= self.aggregator.budget_exhausted()
        for task in self.ledger.open_tasks(now):
            self.coordinator.restore_task(task_ref(task), now)
        self.accumulator = RoundAccumulator(self.trainable, self.config.aggregation)
        for row in self.ledger.updates_in_round(number):
            self.coordinator.restore_accepted(row.task_id, row.device_id)
            body = self.log.read(number, row.log_offset, row.length)
            self.accumulator.add(self.check(self.ledger.task(row.task_id), body, None), row.factor, row.length)
        self._gauges()

    # ------------------------------------------------------------------ updates

    async def admit(self, task: TaskRow, now_fn: Callable[[], float], wait_s: float = 30.0) -> Any:
        """Reserve a place for an update of ``task`` (async mode waits while a buffer is published)."""
        give_up = time.monotonic() + wait_s
        while True:
            verdict = self.coordinator.admit(task_ref(task), now_fn())
            if getattr(verdict, "code", None) != "full" or time.monotonic() > give_up:
                return verdict
            changed = self._version_changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=max(0.01, give_up - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    def check(self, task: TaskRow, body: bytes, norm_bound: float | None) -> CheckedUpdate:
        """Decode and validate an update of ``task`` (:func:`server.ingest.check_update`)."""
        return check_update(body, self.trainable, task, max_bytes=self.max_update_bytes, norm_bound=norm_bound,
                            need_norm=self.config.aggregation.needs_norms)

    def close(self) -> None:
        """Finish the summing thread's work."""
        self._worker.close()

    async def in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run numpy-heavy ``function`` on the one summing thread (numpy releases the GIL there)."""
        return await self._worker.run(function, *args)

    async def count(self, task: TaskRow, checked: CheckedUpdate, factor: float, nbytes: int) -> None:
        """A reserved update is durable: add it to the running sum (on the summing thread, in order)."""
        try:
            await self.in_worker(self.accumulator.add, checked, factor, nbytes)
        finally:
            self.coordinator.accept(task_ref(task))
        self.metrics.inc("fedlite_updates_accepted_total")
        self.metrics.inc("fedlite_update_bytes_total", nbytes)
        self.metrics.set("fedlite_round_accepted", self.accumulator.count)

    def reject(self, reason: str) -> None:
        """Count an update refused for ``reason``."""
        self.rejections[reason] = self.rejections.get(reason, 0) + 1
        self.metrics.inc("fedlite_updates_rejected_total", reason=reason)

    # ------------------------------------------------------------------ ending rounds

    async def tick(self, now: float) -> None:
        """End the current round if the coordinator says so."""
        if self._ending.locked():
            return
        async with self._ending:
            action = self.coordinator.tick(now)
            if action == "aggregate":
                await self._publish()
            elif action == "abandon":
                await self._finish_round("abandoned", None, None, {})

    async def _publish(self) -> None:
        number, version = self.coordinator.round.number, self.version + 1
        try:
            weights, info = await asyncio.to_thread(self._aggregate, number, version)
        except (ValueError, FloatingPointError) as exc:
            LOG.error("round %d: aggregation failed, abandoning the round: %s", number, exc)
            self.coordinator.aggregation_failed()
            await self._finish_round("failed", None, None, {})
            return
        await self._finish_round("published", version, info, weights)

    def _aggregate(self, number: int, version: int) -> tuple[Weights, dict[str, Any]]:
        trainable = {spec.name: self.weights[spec.name] for spec in self.trainable}
        try:
            new = self.aggregator.next_weights(trainable, self.accumulator, lambda: self._load_updates(number))
        except Exception:
            self._reload_state()
            raise
        bad = [name for name, value in new.items() if not np.isfinite(value).all()]
        if bad:
            self._reload_state()
            raise ValueError(f"the new weights of {bad[0]!r} are not finite")
        weights = {**self.weights, **new}
        return weights, self._write_version(version, weights)

    def _reload_state(self) -> None:
        info = self.ledger.version_info(self.version) or {}
        if info.get("state"):
            self.aggregator.load_state_bytes(self.blobs.get(info["state"]))

    def _load_updates(self, number: int) -> list[tuple[dict[str, np.ndarray], float]]:
        rows = self.ledger.updates_in_round(number)
        bodies = [(self.log.read(number, row.log_offset, row.length), row) for row in rows]
        decoded = [codec.decode_update(body, self.trainable, max_bytes=self.max_update_bytes) for body, _ in bodies]
        return [(codec.update_tensors(d), row.num_examples * row.factor) for d, (_, row) in zip(decoded, bodies)]

    def _write_version(self, version: int, weights: Weights) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for encoding in codec.ENCODINGS:
            data = codec.encode_weights(weights, encoding, {"version": version})
            self.blobs.put(weights_key(version, encoding), data)
            info[encoding] = {"sha256": _sha256(data), "size": len(data)}
        state_key = f"state/{version}.npz"
        self.blobs.put(state_key, self.aggregator.state_bytes())
        info["state"] = state_key
        return info

    async def _finish_round(self, outcome: str, version: int | None, info: dict[str, Any] | None,
                            weights: Weights) -> None:
        now = time.time()
        number = self.coordinator.round.number
        stats = self._round_stats(outcome, version)
        await self.committer.submit(ops.finish_round(version, number, now, info, stats, number + 1))
        if version is not None:
            self.coordinator.published(version, now)
            self.version, self.weights = version, weights
            self.coordinator.finished |= self.aggregator.budget_exhausted()
        else:
            self.coordinator.abandoned(now)
        await self.committer.submit(lambda conn: self.log.drop(number))
        self.metrics.inc("fedlite_rounds_total", outcome=outcome)
        self._reset_round()
        self._version_changed.set()
        self._version_changed = asyncio.Event()
        self.on_published(number, weights, stats)

    def _round_stats(self, outcome: str, version: int | None) -> dict[str, Any]:
        acc = self.accumulator
        return {"version": version, "accepted": acc.count, "examples": acc.examples, "bytes": acc.bytes,
                "participants": len(self.coordinator.round.participants), "rejected": dict(self.rejections),
                "train_metrics": acc.mean_metrics(), "epsilon": self.aggregator.epsilon(),
                "duration_s": round(time.monotonic() - self.round_started, 3), "outcome": outcome}

    def _reset_round(self) -> None:
        self.accumulator = RoundAccumulator(self.trainable, self.config.aggregation)
        self.rejections = {}
        self.round_started = time.monotonic()
        self._gauges()

    def _gauges(self) -> None:
        self.metrics.set("fedlite_current_round", self.coordinator.round.number)
        self.metrics.set("fedlite_current_version", self.version)
        self.metrics.set("fedlite_round_accepted", self.accumulator.count)
        epsilon = self.aggregator.epsilon()
        if epsilon is not None:
            self.metrics.set("fedlite_privacy_epsilon", epsilon)


def task_ref(task: TaskRow) -> TaskRef:
    """What the coordinator knows of a stored task."""
    return TaskRef(task.task_id, task.device_id, task.round, task.base_version, task.deadline)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
