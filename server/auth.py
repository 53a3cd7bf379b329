"""Request authentication: signature headers, clock skew, device status, nonces, rate limits.

The checks run in the order of docs/protocol.md §3. Device keys and live nonces are held in
memory (loaded from the ledger at start-up); the caller queues each used nonce for the ledger
(the timing driver flushes the queue every tick).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_sdk.signing import verify_signature
from edge_sdk.wire.protocol import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW_S,
    NONCE_TTL_S,
    ProtocolError,
    canonical_request,
    check_nonce,
    parse_timestamp,
    signing_string,
)
from server.errors import ApiError

SIGNING_HEADERS = (HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)


@dataclass(frozen=True)
class SignedHeaders:
    """The signing headers of a request that passed the cheap checks."""

    device_id: str
    timestamp: str
    nonce: str
    signature: str


@dataclass
class _Device:
    key: Ed25519PublicKey
    revoked: bool


class TokenBucket:
    """``rate`` requests per second with bursts of ``burst``, per key; pure (takes ``now``)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> bool:
        """Whether ``key`` may make a request now (and count it)."""
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return False
        self._state[key] = (tokens - 1.0, now)
        return True


class Authenticator:
    """Verifies signed requests against the enrolled devices."""

    def __init__(self, devices: Mapping[str, tuple[bytes, bool]], *, rate: float, burst: float) -> None:
        self.reload(devices)
        self._nonces: dict[str, float] = {}
        self._next_purge = 0.0
        self.limiter = TokenBucket(rate, burst)

    def add_device(self, device_id: str, public_key: bytes) -> None:
        """Register a newly enrolled device."""
        self._devices[device_id] = _Device(Ed25519PublicKey.from_public_bytes(public_key), False)

    def reload(self, devices: Mapping[str, tuple[bytes, bool]]) -> None:
        """Replace the device table (after an operator changed it)."""
        self._devices = {device: _Device(Ed25519PublicKey.from_public_bytes(key), revoked)
                         for device, (key, revoked) in devices.items()}

    def restore_nonces(self, nonces: list[tuple[str, str, float]]) -> None:
        """Remember nonces loaded from the ledger after a restart."""
        for device, nonce, expires in nonces:
            self._nonces[f"{device}:{nonce}"] = expires

    def precheck(self, headers: Mapping[str, str], now: float) -> SignedHeaders:
        """Checks that need no body: presence, syntax, clock skew, device status."""
        values = [headers.get(name) for name in SIGNING_HEADERS]
        missing = [name for name, value in zip(SIGNING_HEADERS, values) if not value]
        if missing:
            raise ApiError("missing_signature", f"request is not signed: {missing[0]} is missing")
        signed = SignedHeaders(*values)  # type: ignore[arg-type]
        _check_fresh(signed.timestamp, signed.nonce, now)
        self._check_device(signed.device_id)
        return signed

    def _check_device(self, device_id: str) -> _Device:
        device = self._devices.get(device_id)
        if device is None:
            raise ApiError("unknown_device", "no device is enrolled with this id")
        if device.revoked:
            raise ApiError("device_revoked", "this device was revoked by the operator")
        return device

    def verify(self, signed: SignedHeaders, method: str, target: str, body: bytes, now: float) -> str:
        """Check the signature, then the nonce and the device's rate; claim the nonce.

        Returns the body's hex sha256 (computed once for the signature, reused by the caller)."""
        device = self._check_device(signed.device_id)
        digest = hashlib.sha256(body).hexdigest()
        message = signing_string(method, target, signed.device_id, signed.timestamp, signed.nonce, digest)
        if not verify_signature(device.key, message, signed.signature):
            raise ApiError("invalid_signature", "the signature does not match the request")
        key = f"{signed.device_id}:{signed.nonce}"
        if self._nonces.get(key, 0.0) > now:
            raise ApiError("replayed_nonce", f"nonce {signed.nonce!r} was already used by this device")
        if not self.limiter.take(signed.device_id, now):
            raise ApiError("rate_limited", "too many requests from this device", retry_after=1)
        self._nonces[key] = now + NONCE_TTL_S
        self._purge(now)
        return digest

    def _purge(self, now: float) -> None:
        if now < self._next_purge:
            return
        self._nonces = {key: expires for key, expires in self._nonces.items() if expires > now}
        self._next_purge = now + 60.0

    def verify_enrolment(self, public_key: bytes, signed: Mapping[str, str], target: str, body: bytes,
                         now: float) -> None:
        """Proof of possession: the enrolment is signed by the key it registers."""
        timestamp, nonce, signature = (signed.get(name) for name in SIGNING_HEADERS[1:])
        if not (timestamp and nonce and signature):
            raise ApiError("missing_signature", "enrolment must be signed by the key it registers")
        _check_fresh(timestamp, nonce, now)
        message = canonical_request("POST", target, "", timestamp, nonce, body)
        if not verify_signature(public_key, message, signature):
            raise ApiError("invalid_signature", "the enrolment is not signed by public_key")


def _check_fresh(timestamp: str, nonce: str, now: float) -> None:
    """Header syntax (``invalid_header``) and clock skew (``stale_timestamp``) of a signed request."""
    try:
        check_nonce(nonce)
        stamp = parse_timestamp(timestamp)
    except ProtocolError as exc:
        raise ApiError("invalid_header", exc.message) from exc
    if abs(now - stamp) > MAX_CLOCK_SKEW_S:
        raise ApiError("stale_timestamp", f"timestamp {stamp} is more than {MAX_CLOCK_SKEW_S} s "
                       f"from the server's clock ({int(now)})")
