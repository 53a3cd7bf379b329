"""Ed25519 device keys and request signing (docs/protocol.md §3), used by devices and the server."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_sdk.wire.protocol import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    canonical_request,
)

__all__ = ["DeviceKey", "decode_public_key", "new_nonce", "sign_request", "verify_signature"]


class DeviceKey:
    """A device's Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> DeviceKey:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceKey:
        """The key whose 32-byte private seed is ``seed`` (RFC 8032)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: str | Path) -> DeviceKey:
        """Read a PKCS#8 PEM private key written by :meth:`save`."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    def save(self, path: str | Path) -> None:
        """Write the key as PKCS#8 PEM, readable by the owner only."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)

    @property
    def public_key_b64(self) -> str:
        """The raw 32-byte public key in standard base64, as enrolment sends it."""
        return base64.b64encode(self.public_key_raw).decode("ascii")

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)


def new_nonce() -> str:
    """A fresh 22-character base64url nonce (16 random bytes)."""
    return secrets.token_urlsafe(16)


def sign_request(
    key: DeviceKey,
    method: str,
    target: str,
    body: bytes,
    device_id: str | None,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The signing headers for one request; ``device_id=None`` signs an enrolment."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = new_nonce() if nonce is None else nonce
    message = canonical_request(method, target, device_id or "", timestamp, nonce, body)
    headers = {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(key.sign(message)).decode("ascii"),
    }
    if device_id is not None:
        headers[HEADER_DEVICE] = device_id
    return headers


def decode_public_key(text: str) -> bytes:
    """The raw 32 bytes of a base64 public key; ValueError if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("public_key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"public_key must be 32 bytes, got {len(raw)}")
    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def verify_signature(public_key: bytes | Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid signature of ``message`` by ``public_key``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != 64:
        return False
    if isinstance(public_key, bytes):
        public_key = Ed25519PublicKey.from_public_bytes(public_key)
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
