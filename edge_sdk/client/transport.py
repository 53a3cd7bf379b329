"""The one seam between the device client and the network.

A :class:`Transport` turns a :class:`Request` into a :class:`Response` through a single method,
``send``. An HTTP error status is a normal response here; only failures to get an answer raise,
and then only errors from :mod:`edge_sdk.client.errors`. Layers compose by wrapping:
``RetryingTransport(SigningTransport(HTTPSTransport(...)))`` in production, a
:class:`MockTransport` (a function from request to response) in tests and the simulator.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from edge_sdk.client.errors import ConnectError, RemoteProtocolError, TransportTimeoutError


@dataclass(frozen=True)
class Request:
    """One HTTP request; ``path`` is relative to the server's base URL and may carry a query."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    idempotent: bool = False

    def with_headers(self, extra: Mapping[str, str]) -> Request:
        """A copy of this request with ``extra`` headers added (replacing same-named ones)."""
        return replace(self, headers={**self.headers, **extra})


@dataclass(frozen=True)
class Response:
    """One HTTP response; header names are lower-case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        return self.headers.get(name.lower(), default)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; :class:`RemoteProtocolError` if it is anything else."""
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RemoteProtocolError(f"expected a JSON body, got {_preview(self.body)}: {exc}") from None
        if not isinstance(value, dict):
            raise RemoteProtocolError(f"expected a JSON object, got {type(value).__name__}")
        return value


def json_response(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A :class:`Response` whose body is ``value`` as JSON (handy in mock handlers)."""
    body = json.dumps(value).encode()
    return Response(status, {"content-type": "application/json", **(headers or {})}, body)


def _preview(body: bytes, limit: int = 60) -> str:
    return repr(body[:limit]) + ("..." if len(body) > limit else "")


class Transport:
    """Sends one request and returns the server's response; raises only :class:`TransportError`."""

    def send(self, request: Request) -> Response:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the default has none."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MockTransport(Transport):
    """An in-process transport that hands every request to ``handler`` (tests, simulation)."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler

    def send(self, request: Request) -> Response:
        return self.handler(request)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits uniform(0, min(cap, base·2ⁿ))."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2.0**attempt))


class RetryingTransport(Transport):
    """Retries idempotent requests after connection errors, timeouts and retryable statuses.

    A ``Retry-After`` header (seconds) is honoured up to the policy's cap. Non-idempotent
    requests go through once. When attempts run out, the last response is returned or the last
    error raised.
    """

    def __init__(
        self,
        inner: Transport,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.sleep = sleep
        self.rng = rng or random.Random()

    def send(self, request: Request) -> Response:
        attempts = self.policy.attempts if request.idempotent else 1
        for attempt in range(attempts - 1):
            try:
                response = self.inner.send(request)
            except (ConnectError, TransportTimeoutError):
                self.sleep(self.policy.delay(attempt, self.rng))
                continue
            if response.status not in self.policy.retry_statuses:
                return response
            self.sleep(self._wait(response, attempt))
        return self.inner.send(request)

    def _wait(self, response: Response, attempt: int) -> float:
        retry_after = response.header("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), self.policy.max_delay_s)
        return self.policy.delay(attempt, self.rng)

    def close(self) -> None:
        self.inner.close()

