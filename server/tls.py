"""TLS material: a self-signed certificate for local use, and certificate fingerprints."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.storage import write_atomic


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of a PEM certificate, as colon-separated upper-case hex."""
    digest = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def make_certificate(common_name: str, hosts: list[str], *, issuer: tuple[bytes, bytes] | None = None,
                     is_ca: bool = False, days: int = 825) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for ``hosts`` (DNS names or IPs), self-signed unless
    ``issuer=(ca_cert_pem, ca_key_pem)`` is given."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_key, issuer_name = key, name
    if issuer is not None:
        signer_key = serialization.load_pem_private_key(issuer[1], password=None)
        issuer_name = x509.load_pem_x509_certificate(issuer[0]).subject
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(host) for host in hosts]), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def ensure_self_signed(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate and key in ``directory`` (created once, then reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    if not (cert_path.exists() and key_path.exists()):
        cert, key = make_certificate("fedlite-server", hosts)
        write_atomic(key_path, key)
        key_path.chmod(0o600)
        write_atomic(cert_path, cert)
    return cert_path, key_path
