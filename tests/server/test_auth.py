"""Signed-request checks in protocol order, nonce replay, per-device rate limits (pure, no I/O)."""

from __future__ import annotations

import pytest

from edge_sdk.signing import DeviceKey, sign_request
from server.auth import Authenticator, TokenBucket
from server.errors import STATUS_BY_CODE, ApiError

NOW = 1_800_000_000.0


@pytest.fixture()
def setup():
    key = DeviceKey.generate()
    revoked = DeviceKey.generate()
    auth = Authenticator({"dev_a": (key.public_key_raw, False), "dev_r": (revoked.public_key_raw, True)},
                         rate=1.0, burst=2.0)
    return auth, key, revoked


def check(auth: Authenticator, headers: dict, body: bytes = b"{}", now: float = NOW) -> None:
    signed = auth.precheck(headers, now)
    auth.verify(signed, "POST", "/v1/checkin", body, now)


def code_of(call) -> str:
    with pytest.raises(ApiError) as info:
        call()
    return info.value.code


def test_each_failure_has_its_code(setup) -> None:
    auth, key, revoked = setup
    good = sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW)
    check(auth, good)
    assert code_of(lambda: check(auth, good)) == "replayed_nonce"
    assert code_of(lambda: check(auth, {})) == "missing_signature"
    assert code_of(lambda: check(auth, {**good, "X-FedLite-Nonce": "bad nonce!"})) == "invalid_header"
    assert code_of(lambda: check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW - 301))) \
        == "stale_timestamp"
    assert code_of(lambda: check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_x", now=NOW))) \
        == "unknown_device"
    assert code_of(lambda: check(auth, sign_request(revoked, "POST", "/v1/checkin", b"{}", "dev_r", now=NOW))) \
        == "device_revoked"
    assert code_of(lambda: check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW), b"{ }")) \
        == "invalid_signature"
    assert code_of(lambda: check(auth, sign_request(key, "GET", "/v1/checkin", b"{}", "dev_a", now=NOW))) \
        == "invalid_signature"


def test_rate_limit_applies_after_the_signature(setup) -> None:
    auth, key, _ = setup
    check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW))
    check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW))
    forged = sign_request(DeviceKey.generate(), "POST", "/v1/checkin", b"{}", "dev_a", now=NOW)
    assert code_of(lambda: check(auth, forged)) == "invalid_signature"  # forgeries spend no tokens...
    limited = code_of(lambda: check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW)))
    assert limited == "rate_limited" and STATUS_BY_CODE[limited] == 429  # ...but the third real request does
    check(auth, sign_request(key, "POST", "/v1/checkin", b"{}", "dev_a", now=NOW + 1.0), now=NOW + 1.0)


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0)
    assert [bucket.take("d", 0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take("d", 0.5) and not bucket.take("d", 0.5)


def test_enrolment_needs_proof_of_possession(setup) -> None:
    auth, key, _ = setup
    body = b'{"token":"t"}'
    signed = sign_request(key, "POST", "/v1/enroll", body, None, now=NOW)
    auth.verify_enrolment(key.public_key_raw, signed, "/v1/enroll", body, NOW)
    other = DeviceKey.generate().public_key_raw
    assert code_of(lambda: auth.verify_enrolment(other, signed, "/v1/enroll", body, NOW)) == "invalid_signature"
    stale = sign_request(key, "POST", "/v1/enroll", body, None, now=NOW - 301)
    assert code_of(lambda: auth.verify_enrolment(key.public_key_raw, stale, "/v1/enroll", body, NOW)) \
        == "stale_timestamp"
    assert code_of(lambda: auth.verify_enrolment(key.public_key_raw, {}, "/v1/enroll", body, NOW)) \
        == "missing_signature"
