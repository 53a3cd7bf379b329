"""The transport seam: MockTransport, retries with backoff, and the signing layer."""

from __future__ import annotations

import json
import random

import pytest

from edge_sdk.client.api import ServerAPI, SigningTransport, raise_for_status
from edge_sdk.client.errors import (
    ConnectError,
    DeviceRevokedError,
    EnrolmentError,
    RemoteProtocolError,
    ServerError,
    TLSError,
)
from edge_sdk.client.transport import MockTransport, Request, Response, RetryingTransport, RetryPolicy, json_response
from edge_sdk.signing import DeviceKey, verify_signature
from edge_sdk.wire import protocol


class Script:
    """A handler answering from a list of responses (or raising errors), recording requests."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _retrying(script: Script, sleeps: list[float], attempts: int = 4) -> RetryingTransport:
    return RetryingTransport(MockTransport(script), RetryPolicy(attempts=attempts), sleep=sleeps.append,
                             rng=random.Random(0))


IDEMPOTENT = Request("PUT", "/v1/tasks/t/update", body=b"u", idempotent=True)


def test_retries_connection_errors_and_retryable_statuses_with_growing_backoff() -> None:
    script = Script(ConnectError("reset"), Response(503), Response(502), Response(202, body=b"ok"))
    sleeps: list[float] = []
    response = _retrying(script, sleeps).send(IDEMPOTENT)
    assert response.body == b"ok" and len(script.requests) == 4
    policy = RetryPolicy()
    assert all(0 <= wait <= policy.base_delay_s * 2**n for n, wait in enumerate(sleeps)) and len(sleeps) == 3


def test_honours_retry_after_up_to_the_cap() -> None:
    sleeps: list[float] = []
    script = Script(Response(429, {"retry-after": "7"}), Response(429, {"retry-after": "9999"}), Response(200))
    _retrying(script, sleeps).send(IDEMPOTENT)
    assert sleeps == [7.0, RetryPolicy().max_delay_s]


def test_gives_up_after_the_last_attempt() -> None:
    sleeps: list[float] = []
    with pytest.raises(ConnectError):
        _retrying(Script(*[ConnectError("down")] * 3), sleeps, attempts=3).send(IDEMPOTENT)
    assert len(sleeps) == 2
    assert _retrying(Script(Response(503), Response(503)), [], attempts=2).send(IDEMPOTENT).status == 503


def test_non_idempotent_requests_and_tls_errors_are_not_retried() -> None:
    script = Script(Response(503))
    assert _retrying(script, []).send(Request("POST", "/x")).status == 503
    with pytest.raises(TLSError):
        _retrying(Script(TLSError("bad certificate")), []).send(IDEMPOTENT)


def test_client_errors_are_returned_without_retry() -> None:
    script = Script(Response(409))
    assert _retrying(script, []).send(IDEMPOTENT).status == 409 and len(script.requests) == 1


# ---------------------------------------------------------------- signing


KEY = DeviceKey.from_seed(bytes(range(32)))


def _verified(request: Request, device_id: str) -> bool:
    headers = request.headers
    message = protocol.canonical_request(request.method, request.path, device_id,
                                         headers[protocol.HEADER_TIMESTAMP], headers[protocol.HEADER_NONCE],
                                         request.body)
    return verify_signature(KEY.public_key_raw, message, headers[protocol.HEADER_SIGNATURE])


def test_every_request_and_retry_is_signed_afresh() -> None:
    script = Script(Response(503), Response(200))
    signing = SigningTransport(MockTransport(script), KEY, "dev_1", clock=lambda: 1_760_000_000.0)
    RetryingTransport(signing, sleep=lambda _: None).send(IDEMPOTENT)
    first, second = script.requests
    assert _verified(first, "dev_1") and _verified(second, "dev_1")
    assert first.headers[protocol.HEADER_NONCE] != second.headers[protocol.HEADER_NONCE]
    assert first.headers[protocol.HEADER_DEVICE] == "dev_1"


def test_enrolment_is_signed_without_a_device_id() -> None:
    script = Script(json_response(201, {"device_id": "dev_9", "server_time": 5}))
    signing = SigningTransport(MockTransport(script), KEY)
    message = protocol.EnrollRequest("tok_1", KEY.public_key_b64, "linux", "0.1.0", "test 1")
    assert ServerAPI(signing).enroll(message).device_id == "dev_9"
    (request,) = script.requests
    assert protocol.HEADER_DEVICE not in request.headers and _verified(request, "")


def test_a_stale_timestamp_is_retried_once_with_the_servers_clock() -> None:
    stale = Response(401, {"x-fedlite-server-time": "1760000000"},
                     protocol.error_body("stale_timestamp", "timestamp too old"))
    script = Script(stale, Response(200))
    signing = SigningTransport(MockTransport(script), KEY, "dev_1", clock=lambda: 1_000.0)  # a Pi without RTC
    assert signing.send(Request("POST", "/v1/checkin")).status == 200
    assert script.requests[1].headers[protocol.HEADER_TIMESTAMP] == "1760000000"
    assert signing.now() == pytest.approx(1_760_000_000)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(403, "device_revoked", DeviceRevokedError), (401, "unknown_device", DeviceRevokedError),
     (403, "invalid_token", EnrolmentError), (409, "round_closed", ServerError), (503, "not_ready", ServerError)],
)
def test_error_bodies_map_to_error_types(status: int, code: str, kind: type) -> None:
    with pytest.raises(kind) as info:
        raise_for_status(Response(status, {}, protocol.error_body(code, "because")))
    assert (info.value.status, info.value.code, info.value.message) == (status, code, "because")
    assert info.value.retryable == (status >= 500)


def test_a_garbage_error_body_still_gives_a_clear_error() -> None:
    with pytest.raises(ServerError, match="502 http_502: <html>bad gateway"):
        raise_for_status(Response(502, {}, b"<html>bad gateway</html>"))


def test_an_invalid_checkin_answer_is_a_remote_protocol_error() -> None:
    answer = json_response(200, {"action": "dance"})
    with pytest.raises(RemoteProtocolError, match="action"):
        ServerAPI(MockTransport(Script(answer))).checkin(
            protocol.CheckinRequest(protocol.Eligibility(True, True, True), None, None, "0.1.0", "rt 1"))
    with pytest.raises(RemoteProtocolError, match="JSON"):
        Response(200, {}, b"\xff").json()
    assert Response(200, {}, json.dumps({"a": 1}).encode()).json() == {"a": 1}
