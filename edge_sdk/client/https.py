"""The real transport: ``requests`` over HTTPS with connection reuse, timeouts and key pinning.

This is the only module that imports ``requests``, ``urllib3`` or ``ssl``; every exception they
raise is mapped here to :mod:`edge_sdk.client.errors`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from edge_sdk.client.errors import (
    ConnectError,
    RemoteProtocolError,
    TLSError,
    TransportError,
    TransportTimeoutError,
)
from edge_sdk.client.transport import Request, Response, Transport

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HTTPSConfig:
    """Where the server is and how far to trust it.

    ``ca_bundle`` is a PEM file of CAs to trust instead of the system store. ``pin_sha256`` is the
    SHA-256 of the server's SubjectPublicKeyInfo, hex or base64 (``sha256/`` prefix allowed);
    when set, a certificate with any other key is refused before a byte of the request is sent.
    """

    base_url: str
    ca_bundle: str | None = None
    pin_sha256: str | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_response_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"server URL must be https://HOST[:PORT], got {self.base_url!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"server URL must have no path (the API lives under /v1), got {self.base_url!r}")
        if self.ca_bundle is not None:
            _check_ca_bundle(self.ca_bundle)
        if self.pin_sha256 is not None:
            parse_pin(self.pin_sha256)


def _check_ca_bundle(path: str) -> None:
    if not Path(path).is_file():
        raise ValueError(f"CA bundle {path!r} is not a readable file")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ValueError(f"CA bundle {path!r} holds no usable PEM certificate ({exc.reason})") from None


def parse_pin(pin: str) -> bytes:
    """The 32-byte digest in a pin written as 64 hex digits or base64 (``sha256/`` prefix allowed)."""
    text = pin.strip().removeprefix("sha256/")
    try:
        digest = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"public-key pin must be a SHA-256 digest in hex or base64, got {pin!r}")
    return digest


def spki_sha256(certificate_der: bytes) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo of a DER certificate (the value a pin names)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_der_x509_certificate(certificate_der).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


class PinMismatchError(TLSError):
    """The server's certificate key is not the pinned one."""


def _pinned_pool(pin: bytes) -> type[urllib3.connectionpool.HTTPSConnectionPool]:
    """A connection-pool class whose connections check the server key right after the handshake."""

    class PinnedConnection(urllib3.connection.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            der = self.sock.getpeercert(binary_form=True) if self.sock else None
            if not der or not hmac.compare_digest(spki_sha256(der), pin):
                self.close()
                raise PinMismatchError(f"server key of {self.host} does not match the pinned SHA-256")

    return type("PinnedPool", (urllib3.connectionpool.HTTPSConnectionPool,), {"ConnectionCls": PinnedConnection})


class _Adapter(requests.adapters.HTTPAdapter):
    """One host, a couple of kept-alive connections, no urllib3 retries; pinned if ``pin`` is set."""

    def __init__(self, pin: bytes | None) -> None:
        self._pin = pin
        super().__init__(pool_connections=1, pool_maxsize=2, max_retries=0)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        if self._pin is not None:
            self.poolmanager.pool_classes_by_scheme = {"https": _pinned_pool(self._pin)}


class HTTPSTransport(Transport):
    """Sends requests with one reused ``requests.Session``; no retries (wrap for those)."""

    def __init__(self, config: HTTPSConfig) -> None:
        from edge_sdk import __version__

        self.config = config
        self._base = config.base_url.rstrip("/")
        self._session = requests.Session()
        self._session.verify = config.ca_bundle if config.ca_bundle else True
        self._session.trust_env = False
        self._session.headers.update({"User-Agent": f"fedlite-device/{__version__}", "Accept-Encoding": "identity"})
        self._session.mount("https://", _Adapter(parse_pin(config.pin_sha256) if config.pin_sha256 else None))

    def send(self, request: Request) -> Response:
        try:
            return self._send(request)
        except TransportError:
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_error(exc, self._base) from None

    def _send(self, request: Request) -> Response:
        timeout = (self.config.connect_timeout_s, self.config.read_timeout_s)
        with self._session.request(
            request.method, self._base + request.path, headers=dict(request.headers),
            data=request.body or None, timeout=timeout, stream=True, allow_redirects=False,
        ) as answer:
            body = self._read_body(answer)
            headers = {name.lower(): value for name, value in answer.headers.items()}
            return Response(answer.status_code, headers, body)

    def _read_body(self, answer: requests.Response) -> bytes:
        limit = self.config.max_response_bytes
        chunks, size = [], 0
        for chunk in answer.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise RemoteProtocolError(f"response from {self._base} exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._session.close()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3 reasons and exception args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in linked if isinstance(item, BaseException))


def map_error(exc: BaseException, server: str) -> TransportError:
    """The FedLite error for an exception raised by requests, urllib3, ssl or the socket layer."""
    causes = list(_causes(exc))

    def found(*kinds: type[BaseException]) -> BaseException | None:
        return next((cause for cause in causes if isinstance(cause, kinds)), None)

    if pin := found(PinMismatchError):
        return PinMismatchError(str(pin))
    if tls := found(requests.exceptions.SSLError, ssl.SSLError, urllib3.exceptions.SSLError):
        return TLSError(f"TLS with {server} failed: {_reason(tls)}")
    refused = found(urllib3.exceptions.NewConnectionError)  # a subclass of ConnectTimeoutError
    if refused and not found(TimeoutError):
        return ConnectError(f"cannot connect to {server}: {_reason(refused)}")
    if found(requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        return TransportTimeoutError(f"connecting to {server} timed out")
    if found(requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return TransportTimeoutError(f"{server} did not answer in time")
    if found(http.client.RemoteDisconnected, ConnectionError, requests.exceptions.ChunkedEncodingError):
        return ConnectError(f"connection to {server} failed: {_reason(exc)}")
    if bad := found(http.client.HTTPException, requests.exceptions.ContentDecodingError):
        return RemoteProtocolError(f"{server} sent an invalid HTTP response: {_reason(bad)}")
    if found(requests.exceptions.ConnectionError):
        return ConnectError(f"cannot connect to {server}: {_reason(exc)}")
    return TransportError(f"request to {server} failed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """The message of the innermost wrapped exception, which names the actual failure."""
    inner = [cause for cause in _causes(exc) if not isinstance(cause, (requests.RequestException, urllib3.exceptions.HTTPError))]
    innermost = inner[-1] if inner else exc
    return f"{type(innermost).__name__}: {str(innermost).strip()}"
