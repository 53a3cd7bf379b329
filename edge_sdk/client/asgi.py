"""An in-process transport that calls an ASGI application directly: no sockets, no TLS.

The simulator and tests use it to drive the real server app with many devices in one process::

    with ASGITransport(app) as transport:
        client = Client(config, transport=transport)

It runs the app's lifespan (startup on first use, shutdown on :meth:`close`) on its own event
loop; use one instance from one thread at a time. ``asyncio`` is imported only when one is made.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from edge_sdk.client.errors import ConnectError
from edge_sdk.client.transport import Request, Response, Transport

Message = dict[str, Any]


class ASGITransport(Transport):
    """Sends each request through ``app(scope, receive, send)`` and collects the response."""

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 50000), lifespan: bool = True) -> None:
        import asyncio

        self.app = app
        self.client = client
        self._loop = asyncio.new_event_loop()
        self._lifespan = lifespan
        self._state: dict[str, Any] = {}
        self._lifespan_queue: asyncio.Queue[Message] | None = None
        self._lifespan_done: asyncio.Future[None] | None = None

    def send(self, request: Request) -> Response:
        if self._lifespan and self._lifespan_queue is None:
            self._loop.run_until_complete(self._start())
        return self._loop.run_until_complete(self._call(request))

    async def _call(self, request: Request) -> Response:
        import asyncio

        path, _, query = request.path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "scheme": "https", "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
            "root_path": "", "client": self.client, "server": ("testserver", 443), "state": dict(self._state),
            "headers": [(k.lower().encode(), v.encode()) for k, v in _with_length(request).items()],
        }
        sent = False
        status, headers, body = 500, {}, bytearray()

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # no disconnect while the app runs
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # the app crashed: to a device that is a dropped connection
            raise ConnectError(f"in-process app raised {type(exc).__name__}: {exc}") from exc
        return Response(status, headers, bytes(body))

    async def _start(self) -> None:
        import asyncio

        self._lifespan_queue = asyncio.Queue()
        started: asyncio.Future[Message] = self._loop.create_future()
        await self._lifespan_queue.put({"type": "lifespan.startup"})

        async def send(message: Message) -> None:
            if message["type"].startswith("lifespan.startup") and not started.done():
                started.set_result(message)

        async def run() -> None:
            try:
                await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state},
                               self._lifespan_queue.get, send)
            finally:
                if not started.done():  # the app does not speak lifespan
                    started.set_result({"type": "lifespan.startup.complete"})

        self._lifespan_done = asyncio.ensure_future(run())
        message = await started
        if message["type"] == "lifespan.startup.failed":
            raise ConnectError(f"in-process app failed to start: {message.get('message', '')}")

    def close(self) -> None:
        import asyncio

        if self._lifespan_queue is not None and self._lifespan_done is not None:
            self._loop.run_until_complete(self._lifespan_queue.put({"type": "lifespan.shutdown"}))
            self._loop.run_until_complete(asyncio.wait([self._lifespan_done], timeout=10))
            self._lifespan_queue = None
        self._loop.close()


def _with_length(request: Request) -> dict[str, str]:
    headers = {"host": "testserver", **request.headers}
    if request.body or request.method in ("POST", "PUT"):
        headers["content-length"] = str(len(request.body))
    return headers
