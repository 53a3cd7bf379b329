"""HTTP plumbing shared by the routes: bounded body reading, JSON answers, the signed target."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.responses import Response

from edge_sdk.wire import protocol as p
from server.errors import ApiError
from server.metrics import Metrics

JSON_LIMIT = 4096


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    """The JSON error response of an :class:`ApiError`."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return json_response(exc.status, p.error_body(exc.code, exc.message), headers)


def request_target(scope: dict[str, Any]) -> str:
    """The raw path and query exactly as in the request line (what devices sign)."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")


async def read_body(request: Any, limit: int, *, json_body: bool = False) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding != "identity":
        raise ApiError("unsupported_media_type", f"Content-Encoding {encoding!r} is not accepted")
    if json_body and request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError("unsupported_media_type", "Content-Type must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError("payload_too_large", f"body is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("payload_too_large", f"body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ServerTimeMiddleware:
    """Adds ``X-FedLite-Server-Time`` to every response and counts requests."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_time(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-fedlite-server-time", str(int(time.time())).encode()))
                message = {**message, "headers": headers}
                route = scope.get("route")
                self.metrics.inc("fedlite_requests_total", route=getattr(route, "path", "unmatched"),
                                 status=str(message["status"]))
            await send(message)

        await self.app(scope, receive, send_with_time)
