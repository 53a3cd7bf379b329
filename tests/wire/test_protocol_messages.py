"""Protocol v1 messages: strict parsing (unknown, missing, wrongly typed fields) and round trips."""

from __future__ import annotations

import json

import pytest

from edge_sdk.wire.protocol import (
    CheckinRequest,
    EnrollRequest,
    ProtocolError,
    UpdateMeta,
    WaitResponse,
    canonical_request,
    check_nonce,
    dumps,
    parse_checkin_response,
    parse_message,
    parse_timestamp,
)

CHECKIN = {
    "eligibility": {"charging": True, "unmetered": True, "idle": False},
    "model_sha256": None,
    "weights_version": 3,
    "sdk_version": "0.1.0",
    "runtime": "ai-edge-litert 2.3.0",
}


def test_checkin_round_trips() -> None:
    message = parse_message(CheckinRequest, json.dumps(CHECKIN).encode())
    assert message.eligibility.idle is False and message.weights_version == 3
    assert parse_message(CheckinRequest, dumps(message)) == message


@pytest.mark.parametrize(
    ("mutate", "code", "names"),
    [
        (lambda d: d.update(extra=1), "unknown_field", "extra"),
        (lambda d: d["eligibility"].update(wifi=True), "unknown_field", "eligibility.wifi"),
        (lambda d: d.pop("runtime"), "missing_field", "runtime"),
        (lambda d: d["eligibility"].pop("idle"), "missing_field", "eligibility.idle"),
        (lambda d: d.update(weights_version=3.0), "invalid_field", "weights_version"),
        (lambda d: d.update(weights_version=True), "invalid_field", "weights_version"),
        (lambda d: d.update(weights_version=-1), "invalid_field", "weights_version"),
        (lambda d: d["eligibility"].update(charging=1), "invalid_field", "eligibility.charging"),
        (lambda d: d.update(model_sha256="ABC"), "invalid_field", "model_sha256"),
        (lambda d: d.update(sdk_version=None), "invalid_field", "sdk_version"),
        (lambda d: d.update(eligibility=[]), "invalid_field", "eligibility"),
    ],
)
def test_checkin_rejects_bad_fields_naming_them(mutate, code: str, names: str) -> None:
    data = json.loads(json.dumps(CHECKIN))
    mutate(data)
    with pytest.raises(ProtocolError) as info:
        parse_message(CheckinRequest, json.dumps(data).encode())
    assert info.value.code == code and f"'{names}'" in info.value.message


@pytest.mark.parametrize(
    "body", [b"", b"[]", b"\xff\xfe", b'{"a": NaN}', b'{"token": "a", "token": "b"}', b"{" * 5000]
)
def test_invalid_json_is_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_message(EnrollRequest, body)
    assert info.value.code == "invalid_json"
    assert isinstance(info.value, ValueError)


def test_checkin_response_dispatches_on_action() -> None:
    wait = parse_checkin_response(b'{"action":"wait","retry_after_min":5,"retry_after_max":9,"reason":"round_full"}')
    assert wait == WaitResponse(5, 9, "round_full")
    with pytest.raises(ProtocolError, match="action"):
        parse_checkin_response(b'{"action":"sleep"}')
    with pytest.raises(ProtocolError, match="retry_after_min"):
        parse_checkin_response(b'{"action":"wait","retry_after_min":9,"retry_after_max":5,"reason":"round_full"}')


def test_update_meta_rules() -> None:
    meta = parse_message(UpdateMeta, {"task_id": "tsk_1", "round": 2, "base_version": 1, "num_examples": 30,
                                      "metrics": {"loss": 1, "accuracy": 0.5}})
    assert meta.metrics == {"loss": 1.0, "accuracy": 0.5}
    for bad in ({"num_examples": 0}, {"task_id": "no spaces"}, {"metrics": {"loss": "x"}}):
        with pytest.raises(ProtocolError):
            parse_message(UpdateMeta, {"task_id": "t", "round": 0, "base_version": 0, "num_examples": 1} | bad)


def test_signing_header_syntax() -> None:
    check_nonce("a" * 16)
    assert parse_timestamp("1760000000") == 1760000000
    for nonce in ("short", "a" * 65, "has space in it 123", "é" * 20):
        with pytest.raises(ProtocolError):
            check_nonce(nonce)
    for stamp in ("", "-1", "01", "1.5", "１２"):
        with pytest.raises(ProtocolError):
            parse_timestamp(stamp)


def test_canonical_request_layout() -> None:
    text = canonical_request("put", "/v1/x?a=1", "dev", "12", "n" * 16, b"").decode()
    assert text.split("\n") == [
        "FEDLITE-SIG-V1", "PUT", "/v1/x?a=1", "dev", "12", "n" * 16,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]
