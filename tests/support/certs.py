"""A throw-away certificate authority and server certificates for TLS tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.tls import fingerprint, make_certificate


@dataclass(frozen=True)
class ServerCert:
    """PEM files of a server certificate, its key, and the CA that devices should trust."""

    cert: Path
    key: Path
    ca: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the server certificate."""
        return fingerprint(self.cert.read_bytes())


def make_ca(directory: Path) -> tuple[Path, Path]:
    """A CA certificate and key in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = make_certificate("FedLite test CA", [], is_ca=True)
    (directory / "ca.crt").write_bytes(cert)
    (directory / "ca.key").write_bytes(key)
    return directory / "ca.crt", directory / "ca.key"


def issue_server_cert(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> ServerCert:
    """A fresh CA and a server certificate it signed for ``hosts``."""
    ca_cert, ca_key = make_ca(directory)
    cert, key = make_certificate("fedlite-test-server", list(hosts), issuer=(ca_cert.read_bytes(), ca_key.read_bytes()))
    (directory / "server.crt").write_bytes(cert)
    (directory / "server.key").write_bytes(key)
    return ServerCert(directory / "server.crt", directory / "server.key", ca_cert)
