"""Group commit: one thread makes batches of writes durable with one fsync each.

Requests submit ledger operations (and optionally an update body to append to a round's log)
and await the result. The thread takes everything queued, appends the bodies, fsyncs the logs,
runs the operations in one SQLite transaction and commits, then wakes every waiter. Under load
hundreds of acknowledgements share one fsync; idle, a lone write commits at once.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from server.ledger import Ledger
from server.storage import UpdateLog
from server.worker import resolve

MAX_BATCH = 512


@dataclass
class _Job:
    operation: Callable[..., Any]
    append: tuple[int, bytes] | None
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    """The single writer of the ledger and the update logs."""

    def __init__(self, ledger: Ledger, log: UpdateLog) -> None:
        self.ledger = ledger
        self.log = log
        self.batches = 0
        self.jobs = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fedlite-commit", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Finish queued work and stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    async def submit(self, operation: Callable[..., Any], *, append: tuple[int, bytes] | None = None) -> Any:
        """Run ``operation(conn)`` durably; with ``append=(round, body)`` it is called as
        ``operation(conn, offset=...)`` after the body is in the round's log. Re-raises its error."""
        loop = asyncio.get_running_loop()
        job = _Job(operation, append, loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Job]) -> None:
        try:
            operations = self._append_bodies(batch)
            results = self.ledger.run_batch(operations)
        except Exception as exc:  # the whole batch failed (disk full, I/O error): every waiter learns it
            results = [exc] * len(batch)
        self.batches += 1
        self.jobs += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for job, result in zip(batch, results):
            by_loop.setdefault(job.loop, []).append((job.future, result))
        for loop, outcomes in by_loop.items():  # one wake-up of each loop per batch
            loop.call_soon_threadsafe(_resolve_all, outcomes)

    def _append_bodies(self, batch: list[_Job]) -> list[Callable[..., Any]]:
        operations = []
        touched: set[int] = set()
        for job in batch:
            if job.append is None:
                operations.append(job.operation)
                continue
            round_number, body = job.append
            offset = self.log.append(round_number, body)
            touched.add(round_number)
            operations.append(functools.partial(job.operation, offset=offset))
        self.log.sync(touched)
        return operations


def _resolve_all(outcomes: list[tuple[asyncio.Future, Any]]) -> None:
    for future, result in outcomes:
        resolve(future, result)
