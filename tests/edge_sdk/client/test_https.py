"""The HTTPS transport against real TLS servers on loopback that answer, misbehave or lie."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edge_sdk.client.errors import (
    ConnectError,
    RemoteProtocolError,
    TLSError,
    TransportError,
    TransportTimeoutError,
)
from edge_sdk.client.https import HTTPSConfig, HTTPSTransport, PinMismatchError, parse_pin
from edge_sdk.client.transport import Request

from tests.edge_sdk.client.tls_peer import TLSPeer, http_answer


def _pin_of(cert_pem: bytes) -> str:
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


@pytest.fixture
def peers(pki) -> Iterator:
    started: list[TLSPeer] = []

    def start(behaviour, *, certs=pki, host: str = "127.0.0.1") -> TLSPeer:
        peer = TLSPeer(certs.cert, certs.key, behaviour, host=host)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.close()


def _transport(url: str, ca, **options) -> HTTPSTransport:
    return HTTPSTransport(HTTPSConfig(url, ca_bundle=str(ca), **options))


def _ok(conn: ssl.SSLSocket, request: bytes) -> None:
    conn.sendall(http_answer(200, b"hello", {"X-Test": "yes"}))


GET = Request("GET", "/v1/thing")


def test_answers_reuse_one_connection(peers, pki) -> None:
    peer = peers(_ok)
    with _transport(peer.url, pki.ca) as transport:
        first, second = transport.send(GET), transport.send(Request("PUT", "/v1/x", body=b"data"))
    assert (first.status, first.body, first.header("X-TEST")) == (200, b"hello", "yes")
    assert second.status == 200 and peer.requests[1].endswith(b"\r\n\r\ndata")
    assert peer.connections == 1


def test_error_statuses_are_responses_not_exceptions(peers, pki) -> None:
    peer = peers(lambda conn, _: conn.sendall(http_answer(503, b'{"error": {}}', {"Retry-After": "7"})))
    response = _transport(peer.url, pki.ca).send(GET)
    assert (response.status, response.header("retry-after")) == (503, "7")


def test_certificate_from_another_ca_is_refused(peers, pki, rogue_pki) -> None:
    peer = peers(_ok, certs=rogue_pki)
    with pytest.raises(TLSError, match="certificate verify failed"):
        _transport(peer.url, pki.ca).send(GET)
    assert peer.requests == []


def test_host_name_must_match_the_certificate(peers, pki) -> None:
    peer = peers(_ok, host="127.0.0.2")  # the certificate names localhost and 127.0.0.1 only
    url = peer.url.replace("localhost", "127.0.0.2")
    with pytest.raises(TLSError):
        _transport(url, pki.ca).send(GET)


def test_matching_pin_is_accepted(peers, pki) -> None:
    peer = peers(_ok)
    pin = _pin_of(pki.cert.read_bytes())
    assert _transport(peer.url, pki.ca, pin_sha256=pin).send(GET).body == b"hello"


def test_pin_mismatch_is_refused_before_the_request_is_sent(peers, pki, rogue_pki) -> None:
    peer = peers(_ok)
    pin = _pin_of(rogue_pki.cert.read_bytes())
    with pytest.raises(PinMismatchError, match="pinned"):
        _transport(peer.url, pki.ca, pin_sha256=pin).send(Request("PUT", "/v1/secret", body=b"update"))
    assert peer.requests == []


def test_pin_can_be_given_in_base64() -> None:
    digest = bytes(range(32))
    assert parse_pin("sha256/" + base64.b64encode(digest).decode()) == digest
    assert parse_pin(digest.hex()) == digest
    with pytest.raises(ValueError, match="SHA-256"):
        parse_pin("abc")


def test_garbage_instead_of_http_is_a_protocol_error(peers, pki) -> None:
    peer = peers(lambda conn, _: conn.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n"))
    with pytest.raises(RemoteProtocolError, match="invalid HTTP"):
        _transport(peer.url, pki.ca).send(GET)


def test_silent_server_times_out(peers, pki) -> None:
    peer = peers(lambda conn, _: peer.wait_closed(10))
    with pytest.raises(TransportTimeoutError):
        _transport(peer.url, pki.ca, read_timeout_s=0.3).send(GET)


def test_connection_closed_without_answer_is_a_connect_error(peers, pki) -> None:
    def hang_up(conn: ssl.SSLSocket, request: bytes) -> None:
        conn.close()

    peer = peers(hang_up)
    with pytest.raises(ConnectError):
        _transport(peer.url, pki.ca).send(GET)


def test_truncated_body_is_a_connect_error(peers, pki) -> None:
    def truncate(conn: ssl.SSLSocket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a little")
        conn.close()

    peer = peers(truncate)
    with pytest.raises(ConnectError):
        _transport(peer.url, pki.ca).send(GET)


def test_oversized_body_is_cut_off(peers, pki) -> None:
    peer = peers(lambda conn, _: conn.sendall(http_answer(200, b"x" * 200_000)))
    with pytest.raises(RemoteProtocolError, match="exceeds 1000 bytes"):
        _transport(peer.url, pki.ca, max_response_bytes=1000).send(GET)


def test_plain_http_server_fails_the_handshake(pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_in_plain_http() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=answer_in_plain_http, daemon=True).start()
        url = f"https://localhost:{listener.getsockname()[1]}"
        with pytest.raises(TLSError, match="WRONG_VERSION_NUMBER|wrong version"):
            _transport(url, pki.ca).send(GET)


def test_nothing_listening_is_a_connect_error(pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError, match="cannot connect"):
        _transport(f"https://localhost:{port}", pki.ca).send(GET)


@pytest.mark.parametrize(
    ("url", "problem"),
    [("http://localhost:1", "https"), ("https://", "https"), ("https://host/fedlite", "path")],
)
def test_config_rejects_bad_server_urls(url: str, problem: str, pki) -> None:
    with pytest.raises(ValueError, match=problem):
        HTTPSConfig(url, ca_bundle=str(pki.ca))


def test_config_rejects_a_missing_ca_bundle(tmp_path) -> None:
    with pytest.raises(ValueError, match="CA bundle"):
        HTTPSConfig("https://localhost:1", ca_bundle=str(tmp_path / "nope.pem"))


def test_only_fedlite_errors_escape(peers, pki) -> None:
    peer = peers(lambda conn, _: conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
    with pytest.raises(TransportError) as info:
        _transport(peer.url, pki.ca).send(GET)
    assert type(info.value).__module__ == "edge_sdk.client.errors"
