"""Typed calls to the server's device API (docs/protocol.md §4), over any :class:`Transport`.

:class:`SigningTransport` signs every request afresh (new nonce, server-corrected clock) so that
retries below it are never replays; :class:`ServerAPI` turns responses into protocol messages
and error statuses into :class:`~edge_sdk.client.errors.ServerError` and its subclasses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from edge_sdk.client.errors import (
    DeviceRevokedError,
    EnrolmentError,
    RemoteProtocolError,
    ServerError,
)
from edge_sdk.client.transport import Request, Response, Transport
from edge_sdk.signing import DeviceKey, sign_request
from edge_sdk.wire import protocol

M = TypeVar("M")

_STOP_CODES = {"device_revoked", "unknown_device", "key_in_use", "invalid_signature"}
_CLOCK_TOLERANCE_S = 30.0


class SigningTransport(Transport):
    """Adds the four signing headers to each request; learns the server's clock from responses.

    ``device_id`` is ``None`` until enrolment; the enrolment request is signed without it.
    A ``401 stale_timestamp`` is retried once with the corrected clock.
    """

    def __init__(
        self, inner: Transport, key: DeviceKey, device_id: str | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.inner = inner
        self.key = key
        self.device_id = device_id
        self.clock = clock
        self.clock_offset_s = 0.0

    def now(self) -> float:
        """The current time on the server's clock, as far as this device knows it."""
        return self.clock() + self.clock_offset_s

    def send(self, request: Request) -> Response:
        response = self._send_signed(request)
        if response.status == 401 and _error(response)[0] == "stale_timestamp":
            response = self._send_signed(request)
        return response

    def _send_signed(self, request: Request) -> Response:
        target_device = None if request.path == f"{protocol.API_PREFIX}/enroll" else self.device_id
        headers = sign_request(self.key, request.method, request.path, request.body, target_device, now=self.now())
        response = self.inner.send(request.with_headers(headers))
        self._learn_clock(response)
        return response

    def _learn_clock(self, response: Response) -> None:
        server_time = response.header(protocol.HEADER_SERVER_TIME)
        if server_time is None or not server_time.isdigit():
            return
        offset = int(server_time) - self.clock()
        if abs(offset - self.clock_offset_s) > _CLOCK_TOLERANCE_S or response.status == 401:
            self.clock_offset_s = offset

    def close(self) -> None:
        self.inner.close()


def _error(response: Response) -> tuple[str, str]:
    """The (code, message) of an error response; a synthetic code if the body is not one."""
    try:
        error = json.loads(response.body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        preview = response.body[:80].decode("utf-8", "replace")
        return f"http_{response.status}", preview or "no error body"


def raise_for_status(response: Response) -> Response:
    """``response`` if its status is below 400, else the matching :class:`ServerError`."""
    if response.status < 400:
        return response
    code, message = _error(response)
    kind = DeviceRevokedError if code in _STOP_CODES else EnrolmentError if code == "invalid_token" else ServerError
    raise kind(response.status, code, message)


def _parse(parse: Callable[[Any], M], response: Response) -> M:
    try:
        return parse(response.body)
    except protocol.ProtocolError as exc:
        raise RemoteProtocolError(f"server answered an invalid message: {exc}") from None


def _json_request(method: str, path: str, message: Any) -> Request:
    headers = {"Content-Type": "application/json"}
    return Request(method, path, headers, protocol.dumps(message), idempotent=True)


class ServerAPI:
    """The device endpoints; every call is idempotent per docs/protocol.md, so all may be retried."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _call(self, request: Request) -> Response:
        return raise_for_status(self.transport.send(request))

    def enroll(self, message: protocol.EnrollRequest) -> protocol.EnrollResponse:
        """Trade an enrolment token for a device id (idempotent per key)."""
        response = self._call(_json_request("POST", f"{protocol.API_PREFIX}/enroll", message))
        return _parse(lambda body: protocol.parse_message(protocol.EnrollResponse, body), response)

    def checkin(self, message: protocol.CheckinRequest) -> protocol.CheckinResponse:
        """Ask for work: a task to train or a window to wait."""
        response = self._call(_json_request("POST", f"{protocol.API_PREFIX}/checkin", message))
        return _parse(protocol.parse_checkin_response, response)

    def get(self, path: str, byte_range: tuple[int, int] | None = None) -> Response:
        """GET a model or weights path as handed out by the server, optionally one byte range."""
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        return self._call(Request("GET", path, headers, idempotent=True))

    def upload(self, path: str, body: bytes) -> protocol.UploadAck:
        """PUT an encoded update; a repeat of the same bytes is acknowledged as a duplicate."""
        request = Request("PUT", path, {"Content-Type": "application/octet-stream"}, body, idempotent=True)
        response = self._call(request)
        return _parse(lambda data: protocol.parse_message(protocol.UploadAck, data), response)
