"""Ed25519 request signing: golden vectors shared with the JVM client, tampering, key files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_sdk.signing import DeviceKey, decode_public_key, sign_request, verify_signature
from edge_sdk.wire.protocol import canonical_request

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "protocol_signing.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{c['method']} {c['target']}")
def test_golden_vectors(case: dict) -> None:
    key = DeviceKey.from_seed(bytes.fromhex(VECTORS["private_seed_hex"]))
    assert key.public_key_b64 == VECTORS["public_key_b64"]
    body = bytes.fromhex(case["body_hex"])
    canonical = canonical_request(case["method"], case["target"], case["device_id"] or "",
                                  case["timestamp"], case["nonce"], body)
    assert canonical.decode() == case["canonical_utf8"]
    headers = sign_request(key, case["method"], case["target"], body, case["device_id"],
                           now=int(case["timestamp"]), nonce=case["nonce"])
    assert headers["X-FedLite-Signature"] == case["signature_b64"]
    assert verify_signature(key.public_key_raw, canonical, case["signature_b64"])


def test_tampering_breaks_the_signature() -> None:
    key = DeviceKey.generate()
    message = canonical_request("PUT", "/v1/tasks/t/update", "dev", "1", "n" * 16, b"body")
    signature = sign_request(key, "PUT", "/v1/tasks/t/update", b"body", "dev", now=1, nonce="n" * 16)[
        "X-FedLite-Signature"
    ]
    assert verify_signature(key.public_key_raw, message, signature)
    assert not verify_signature(key.public_key_raw, message.replace(b"PUT", b"GET"), signature)
    assert not verify_signature(DeviceKey.generate().public_key_raw, message, signature)
    assert not verify_signature(key.public_key_raw, message, "not base64!")
    assert not verify_signature(key.public_key_raw, message, signature[:40])


def test_key_file_round_trip_is_private(tmp_path: Path) -> None:
    key = DeviceKey.generate()
    key.save(tmp_path / "device.pem")
    assert (tmp_path / "device.pem").stat().st_mode & 0o077 == 0
    assert DeviceKey.load(tmp_path / "device.pem").public_key_raw == key.public_key_raw


@pytest.mark.parametrize("text", ["", "AAAA", "!!!!", "A" * 44])
def test_decode_public_key_rejects_bad_keys(text: str) -> None:
    with pytest.raises(ValueError):
        decode_public_key(text)
