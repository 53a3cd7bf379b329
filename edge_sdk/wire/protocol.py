"""Protocol v1 messages (docs/protocol.md): frozen dataclasses, strict JSON, the signing string.

Pure: no I/O. Shared by the device SDK and the server. Parsing is strict — unknown fields,
missing fields and wrong JSON types raise :class:`ProtocolError`, which names the field.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

API_PREFIX = "/v1"
SIGNATURE_SCHEME = "FEDLITE-SIG-V1"
HEADER_DEVICE = "X-FedLite-Device"
HEADER_TIMESTAMP = "X-FedLite-Timestamp"
HEADER_NONCE = "X-FedLite-Nonce"
HEADER_SIGNATURE = "X-FedLite-Signature"
HEADER_SERVER_TIME = "X-FedLite-Server-Time"
HEADER_SHA256 = "X-FedLite-Sha256"
HEADER_WEIGHTS_VERSION = "X-FedLite-Weights-Version"
HEADER_DELTA_FROM = "X-FedLite-Delta-From"
MAX_CLOCK_SKEW_S = 300
NONCE_TTL_S = 600
MAX_JSON_INT = 2**53
WAIT_REASONS = ("already_participated", "no_round", "not_eligible", "round_full", "training_complete")

_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,15}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

M = TypeVar("M")


class ProtocolError(ValueError):
    """A message breaks protocol v1; ``code`` is the error code of docs/protocol.md §2."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(name: str, why: str) -> ProtocolError:
    return ProtocolError("invalid_field", f"field '{name}' {why}")


def _check_text(name: str, value: str, limit: int = 100) -> None:
    if not 1 <= len(value) <= limit or not value.isprintable():
        raise _invalid(name, f"must be 1-{limit} printable characters")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise _invalid(name, f"must be between {low} and {high}, got {value}")


def _check_sha256(name: str, value: str | None) -> None:
    if value is not None and not _HEX64.fullmatch(value):
        raise _invalid(name, "must be 64 lower-case hex digits")


def _check_id(name: str, value: str) -> None:
    if not _ID.fullmatch(value):
        raise _invalid(name, "must be 1-64 characters of [A-Za-z0-9_-]")


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class EnrollRequest:
    token: str
    public_key: str
    platform: str
    sdk_version: str
    runtime: str

    def __post_init__(self) -> None:
        _check_text("token", self.token, 200)
        _check_text("public_key", self.public_key, 200)
        for name in ("platform", "sdk_version", "runtime"):
            _check_text(name, getattr(self, name))


@dataclass(frozen=True)
class EnrollResponse:
    device_id: str
    server_time: int


@dataclass(frozen=True)
class Eligibility:
    charging: bool
    unmetered: bool
    idle: bool


@dataclass(frozen=True)
class CheckinRequest:
    eligibility: Eligibility
    model_sha256: str | None
    weights_version: int | None
    sdk_version: str
    runtime: str

    def __post_init__(self) -> None:
        _check_sha256("model_sha256", self.model_sha256)
        if self.weights_version is not None:
            _check_range("weights_version", self.weights_version, 0, MAX_JSON_INT)
        _check_text("sdk_version", self.sdk_version)
        _check_text("runtime", self.runtime)


@dataclass(frozen=True)
class ModelRef:
    sha256: str
    size: int
    url: str


@dataclass(frozen=True)
class WeightsRef:
    version: int
    sha256: str
    size: int
    url: str
    encoding: str


@dataclass(frozen=True)
class CodecRef:
    preset: str
    seed: int
    rotation_seed: int

    def __post_init__(self) -> None:
        _check_range("codec.seed", self.seed, 0, 2**32 - 1)
        _check_range("codec.rotation_seed", self.rotation_seed, 0, 2**32 - 1)


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    batch_size: int
    learning_rate: float | None


@dataclass(frozen=True)
class UploadRef:
    url: str
    max_bytes: int


@dataclass(frozen=True)
class Task:
    task_id: str
    round: int
    base_version: int
    model: ModelRef
    weights: WeightsRef
    codec: CodecRef
    train: TrainParams
    deadline: int
    upload: UploadRef


@dataclass(frozen=True)
class TrainResponse:
    task: Task
    action: Literal["train"] = "train"


@dataclass(frozen=True)
class WaitResponse:
    retry_after_min: int
    retry_after_max: int
    reason: str
    action: Literal["wait"] = "wait"

    def __post_init__(self) -> None:
        if not 0 <= self.retry_after_min <= self.retry_after_max:
            raise _invalid("retry_after_min", "must satisfy 0 <= retry_after_min <= retry_after_max")
        if self.reason not in WAIT_REASONS:
            raise _invalid("reason", f"must be one of {', '.join(WAIT_REASONS)}")


CheckinResponse = Union[TrainResponse, WaitResponse]


@dataclass(frozen=True)
class UpdateMeta:
    """The meta object every update bundle carries (docs/protocol.md §4.5)."""

    task_id: str
    round: int
    base_version: int
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    model_id: str | None = None

    def __post_init__(self) -> None:
        _check_id("task_id", self.task_id)
        if self.model_id is not None:
            _check_text("model_id", self.model_id, 200)
        _check_range("round", self.round, 0, MAX_JSON_INT)
        _check_range("base_version", self.base_version, 0, MAX_JSON_INT)
        _check_range("num_examples", self.num_examples, 1, 10**9)
        if len(self.metrics) > 32:
            raise _invalid("metrics", "must have at most 32 entries")
        for name, value in self.metrics.items():
            _check_text(f"metrics.{name}", name, 64)
            if not math.isfinite(value):
                raise _invalid(f"metrics.{name}", "must be a finite number")


@dataclass(frozen=True)
class UploadAck:
    status: Literal["accepted", "duplicate"]
    task_id: str
    round: int


# ---------------------------------------------------------------- strict JSON


def _reject_constant(name: str) -> None:
    raise ProtocolError("invalid_json", f"body contains {name}, which is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ProtocolError("invalid_json", "body has a duplicate key")
    return result


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Decode a UTF-8 JSON object strictly (no NaN/Infinity, no duplicate keys)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise ProtocolError("invalid_json", f"body is not UTF-8: {exc.reason}") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ProtocolError("invalid_json", "body must be a JSON object")
    return value


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(tp, str(tp))


def _convert(name: str, tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _convert(name, inner, value)
    if value is None:
        raise _invalid(name, "must not be null")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _invalid(name, f"must be one of {typing.get_args(tp)}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise _invalid(name, "must be an object")
        value_type = typing.get_args(tp)[1]
        return {k: _convert(f"{name}.{k}", value_type, v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, f"{name}.")
    return _convert_scalar(name, tp, value)


def _convert_scalar(name: str, tp: type, value: Any) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if type(value) is not tp:
        raise _invalid(name, f"must be {_type_name(tp)}, got {type(value).__name__}")
    if tp is int and abs(value) > MAX_JSON_INT:
        raise _invalid(name, "is out of the JSON integer range")
    return value


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}


def _from_dict(cls: type[M], data: Any, prefix: str = "") -> M:
    if not isinstance(data, dict):
        raise _invalid(prefix.rstrip(".") or cls.__name__, "must be an object")
    hints, fields = _fields(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ProtocolError("unknown_field", f"unknown field '{prefix}{unknown[0]}'")
    values = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ProtocolError("missing_field", f"missing field '{prefix}{name}'")
            continue
        values[name] = _convert(prefix + name, hints[name], data[name])
    return cls(**values)


def parse_message(cls: type[M], data: bytes | str | Mapping[str, Any]) -> M:
    """Build message ``cls`` from JSON bytes/text or an already decoded object, strictly."""
    obj = data if isinstance(data, Mapping) else loads_object(data)
    return _from_dict(cls, dict(obj))


def parse_checkin_response(data: bytes | str | Mapping[str, Any]) -> CheckinResponse:
    """Parse a check-in answer into :class:`TrainResponse` or :class:`WaitResponse`."""
    obj = dict(data) if isinstance(data, Mapping) else loads_object(data)
    kinds = {"train": TrainResponse, "wait": WaitResponse}
    if obj.get("action") not in kinds:
        raise _invalid("action", "must be 'train' or 'wait'")
    return _from_dict(kinds[obj["action"]], obj)


def to_dict(message: Any) -> dict[str, Any]:
    """The JSON object of a message (nested dataclasses become objects)."""
    return dataclasses.asdict(message)


def dumps(message: Any) -> bytes:
    """Serialise a message as compact UTF-8 JSON."""
    return json.dumps(to_dict(message), separators=(",", ":"), allow_nan=False).encode("utf-8")


def error_body(code: str, message: str) -> bytes:
    """The JSON error body of docs/protocol.md §2."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


# ---------------------------------------------------------------- signing string


def check_nonce(nonce: str) -> None:
    """Raise :class:`ProtocolError` unless ``nonce`` is 16-64 characters of [A-Za-z0-9_-]."""
    if not _NONCE.fullmatch(nonce):
        raise ProtocolError("invalid_header", f"{HEADER_NONCE} must be 16-64 characters of [A-Za-z0-9_-]")


def parse_timestamp(text: str) -> int:
    """The integer value of an ``X-FedLite-Timestamp`` header (decimal, no sign, no leading zeros)."""
    if not _TIMESTAMP.fullmatch(text):
        raise ProtocolError("invalid_header", f"{HEADER_TIMESTAMP} must be integer unix seconds")
    return int(text)


def canonical_request(
    method: str, target: str, device_id: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """The bytes a device signs: docs/protocol.md §3 (``device_id`` is "" for enrolment)."""
    return signing_string(method, target, device_id, timestamp, nonce, hashlib.sha256(body).hexdigest())


def signing_string(
    method: str, target: str, device_id: str, timestamp: str, nonce: str, body_sha256: str
) -> bytes:
    """:func:`canonical_request` for a body known by its hex sha256 (hash large bodies once)."""
    lines = (SIGNATURE_SCHEME, method.upper(), target, device_id, timestamp, nonce, body_sha256)
    return "\n".join(lines).encode("utf-8")
