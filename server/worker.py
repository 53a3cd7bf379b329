"""One background thread that runs the event loop's numpy work in submission order.

A lighter ``loop.run_in_executor`` for the summing thread: a queue and one thread, each result
handed back with one ``call_soon_threadsafe`` (no ``concurrent.futures.Future``, no condition
variable, no future chaining). Every update passes through it twice (validate, then add), so
the hop's cost is paid on the event loop hundreds of times a second.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future, asyncio.AbstractEventLoop]


class SerialWorker:
    """Runs submitted functions one at a time, in order, on its own thread."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on the worker thread (started by the first call); re-raises its exception."""
        if self._closed:
            raise RuntimeError("the worker is closed")
        if self._thread.ident is None:
            self._thread.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((function, args, future, loop))
        return await future

    def close(self) -> None:
        """Finish the queued work and stop the thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            function, args, future, loop = job
            try:
                result = function(*args)
            except BaseException as exc:  # handed to the waiting coroutine, which re-raises it
                result = exc
            try:
                loop.call_soon_threadsafe(resolve, future, result)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass


def resolve(future: asyncio.Future, result: Any) -> None:
    """Complete ``future`` with ``result``, or with it as the exception if it is one (unless cancelled)."""
    if future.cancelled():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
