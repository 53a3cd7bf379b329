"""The routes of docs/protocol.md §4: one table of endpoints, each a few lines over the engine.

The same table builds the Starlette routes and the OpenAPI document, so the docs cannot drift
from what is served.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from edge_sdk.wire import protocol as p
from server.app_support import JSON_LIMIT, json_response, read_body, request_target
from server.engine import Engine
from server.errors import ApiError

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_INT = re.compile(r"0|[1-9][0-9]{0,15}")
IMMUTABLE = "public, max-age=31536000, immutable"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One route: what it serves and how it is documented."""

    method: str
    path: str
    handler: Handler
    summary: str
    status: int = 200
    body: type | str | None = None  # a message class (JSON), "binary", or None
    answer: type | None = None
    tag: str = "device"


def _int(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not _INT.fullmatch(text):
        raise ApiError("invalid_query", f"{name} must be a non-negative integer")
    return int(text)


def _parse(message: type, body: bytes) -> Any:
    try:
        return p.parse_message(message, body)
    except p.ProtocolError as exc:
        raise ApiError(exc.code, exc.message) from exc


class DeviceApi:
    """The request handlers over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _authenticate(self, request: Request, limit: int, *, json_body: bool = False) -> tuple[str, bytes, str]:
        """(device id, body, body sha256) of a request whose signature verified."""
        engine = self.engine
        if not engine.ready:
            raise ApiError("not_ready", "the server is not ready", retry_after=1)
        now = time.time()
        signed = engine.auth.precheck(request.headers, now)
        body = await read_body(request, limit, json_body=json_body)
        digest = engine.auth.verify(signed, request.method, request_target(request.scope), body, now)
        engine.note_nonce(signed.device_id, signed.nonce, now)
        return signed.device_id, body, digest

    async def enroll(self, request: Request) -> Response:
        body = await read_body(request, JSON_LIMIT, json_body=True)
        message = _parse(p.EnrollRequest, body)
        status, answer = await self.engine.enroll(message, request.headers, request_target(request.scope), body,
                                                  time.time())
        return json_response(status, p.to_dict(answer))

    async def checkin(self, request: Request) -> Response:
        device_id, body, _ = await self._authenticate(request, JSON_LIMIT, json_body=True)
        answer = await self.engine.checkin(device_id, _parse(p.CheckinRequest, body), time.time())
        return json_response(200, p.to_dict(answer))

    async def model(self, request: Request) -> Response:
        await self._authenticate(request, 0)
        sha256 = request.path_params["sha256"]
        path = self.engine.model_path(sha256)
        etag = f'"{sha256}"'
        headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}
        if request.headers.get("if-none-match") in (etag, "*"):
            return Response(status_code=304, headers=headers)
        return _ranged(path.read_bytes(), request.headers.get("range"), headers)

    async def weights(self, request: Request) -> Response:
        await self._authenticate(request, 0)
        number = _int(request.path_params["version"], "version")
        _int(request.query_params.get("since"), "since")
        data = self.engine.weights_body(number, request.query_params.get("encoding", "fp32"))
        digest = hashlib.sha256(data).hexdigest()
        headers = {p.HEADER_SHA256: digest, p.HEADER_WEIGHTS_VERSION: str(number), "ETag": f'"{digest}"',
                   "Cache-Control": IMMUTABLE}
        return Response(data, headers=headers, media_type="application/octet-stream")

    async def upload(self, request: Request) -> Response:
        device_id, body, digest = await self._authenticate(request, self.engine.rounds.max_update_bytes)
        ack = await self.engine.upload(device_id, request.path_params["task_id"], body, digest)
        return json_response(202, p.to_dict(ack))

    async def healthz(self, request: Request) -> Response:
        engine = self.engine
        if not engine.ready:
            raise ApiError("not_ready", "the server is starting or stopping", retry_after=1)
        current = engine.rounds.coordinator.round
        return json_response(200, {"status": "ok", "round": current.number, "state": current.state,
                                   "accepted": engine.rounds.accumulator.count, "version": engine.rounds.version})

    async def metrics(self, request: Request) -> Response:
        self.engine.metrics.set("fedlite_commit_batches_total", self.engine.committer.batches)
        return PlainTextResponse(self.engine.metrics.render(), media_type="text/plain; version=0.0.4")

    async def dashboard(self, request: Request) -> Response:
        from server.dashboard import render_dashboard

        return HTMLResponse(render_dashboard(self.engine.ledger.rounds(), self.engine))

    def endpoints(self) -> list[Endpoint]:
        """Every route this server serves."""
        return [
            Endpoint("POST", "/v1/enroll", self.enroll, "Trade an enrolment token for a device id", 201,
                     p.EnrollRequest, p.EnrollResponse),
            Endpoint("POST", "/v1/checkin", self.checkin, "Ask for work: a task or a retry window", 200,
                     p.CheckinRequest, p.CheckinResponse),
            Endpoint("GET", "/v1/models/{sha256}", self.model, "The immutable model graph (.tflite)"),
            Endpoint("GET", "/v1/weights/{version}", self.weights, "Global weights of a version (fp32|fp16)"),
            Endpoint("PUT", "/v1/tasks/{task_id}/update", self.upload, "Upload a task's encoded update", 202,
                     "binary", p.UploadAck),
            Endpoint("GET", "/healthz", self.healthz, "Readiness and the current round", tag="operator"),
            Endpoint("GET", "/metrics", self.metrics, "Prometheus metrics", tag="operator"),
            Endpoint("GET", "/dashboard", self.dashboard, "Rounds, rejections, accuracy, bytes", tag="operator"),
        ]


def _ranged(data: bytes, header: str | None, headers: dict[str, str]) -> Response:
    if header is None:
        return Response(data, headers=headers, media_type="application/octet-stream")
    match = _RANGE.fullmatch(header.strip())
    size = len(data)
    if match is None or match.groups() == ("", ""):
        raise ApiError("range_not_satisfiable", "only one 'bytes=a-b' range is supported")
    first, last = match.groups()
    start = int(first) if first else max(0, size - int(last))
    end = min(size - 1, int(last)) if first and last else size - 1
    if start >= size or start > end:
        raise ApiError("range_not_satisfiable", f"range {header!r} is outside the {size}-byte model")
    headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
    return Response(data[start:end + 1], status_code=206, headers=headers, media_type="application/octet-stream")


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of ``endpoints``."""
    from pydantic import TypeAdapter

    error = {"description": "error", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}}}}}
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {"summary": endpoint.summary, "tags": [endpoint.tag],
                                     "responses": {str(endpoint.status): {"description": "success"}, "4XX": error}}
        if endpoint.answer is not None:
            schema = TypeAdapter(endpoint.answer).json_schema()
            operation["responses"][str(endpoint.status)]["content"] = {"application/json": {"schema": schema}}
        if endpoint.body == "binary":
            content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
            operation["requestBody"] = {"required": True, "content": content}
        elif endpoint.body is not None:
            schema = TypeAdapter(endpoint.body).json_schema()
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {"openapi": "3.1.0", "paths": paths,
            "info": {"title": "FedLite aggregation server", "version": "1",
                     "description": "Device–server protocol v1 (docs/protocol.md). Device requests are "
                                    "signed with the X-FedLite-* headers."}}
