"""A tiny TLS server on loopback that behaves as a test tells it: answers, garbage, silence."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

Behaviour = Callable[[ssl.SSLSocket, bytes], None]


def read_request(conn: ssl.SSLSocket) -> bytes:
    """Read one HTTP request head and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def http_answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class TLSPeer:
    """Serves ``behaviour(conn, request)`` for every request on every accepted TLS connection."""

    def __init__(self, cert: Path, key: Path, behaviour: Behaviour, *, host: str = "127.0.0.1") -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.connections = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
            with conn:
                while not self._closed.is_set():
                    request = read_request(conn)
                    if not request:
                        return
                    self.requests.append(request)
                    self.behaviour(conn, request)
        except (OSError, ssl.SSLError):
            return

    def wait_closed(self, timeout: float) -> bool:
        """Block until the test ends (for behaviours that hang)."""
        return self._closed.wait(timeout)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
