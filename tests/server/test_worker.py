"""SerialWorker: the summing thread's job queue (order, one thread, errors, shutdown)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.worker import SerialWorker


def test_jobs_run_in_submission_order_on_one_other_thread() -> None:
    worker = SerialWorker("test-worker")
    seen: list[tuple[int, str]] = []

    def job(index: int) -> int:
        seen.append((index, threading.current_thread().name))
        return index * index

    async def main() -> list[int]:
        return await asyncio.gather(*(worker.run(job, i) for i in range(50)))

    try:
        assert asyncio.run(main()) == [i * i for i in range(50)]
    finally:
        worker.close()
    assert [index for index, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-worker"}


def test_an_error_reaches_the_caller_and_the_worker_goes_on() -> None:
    worker = SerialWorker("test-worker")

    def fail() -> None:
        raise ValueError("bad update")

    async def main() -> str:
        with pytest.raises(ValueError, match="bad update"):
            await worker.run(fail)
        return await worker.run(str.upper, "still working")

    try:
        assert asyncio.run(main()) == "STILL WORKING"
    finally:
        worker.close()


def test_close_finishes_queued_work_then_refuses_more() -> None:
    worker = SerialWorker("test-worker")
    done: list[int] = []

    async def main() -> None:
        await worker.run(done.append, 1)
        worker.close()
        with pytest.raises(RuntimeError, match="closed"):
            await worker.run(done.append, 2)

    asyncio.run(main())
    assert done == [1]
    worker.close()  # closing twice is harmless
