"""The server's one error type and its error code → HTTP status table (docs/protocol.md §2)."""

from __future__ import annotations

STATUS_BY_CODE: dict[str, int] = {
    "invalid_json": 400,
    "missing_field": 400,
    "unknown_field": 400,
    "invalid_field": 400,
    "invalid_header": 400,
    "invalid_query": 400,
    "malformed_update": 400,
    "invalid_update": 400,
    "missing_signature": 401,
    "invalid_signature": 401,
    "stale_timestamp": 401,
    "replayed_nonce": 401,
    "unknown_device": 401,
    "operator_unauthorized": 401,
    "device_revoked": 403,
    "invalid_token": 403,
    "not_found": 404,
    "unknown_task": 404,
    "unknown_model": 404,
    "unknown_weights": 404,
    "method_not_allowed": 405,
    "round_closed": 409,
    "stale_base": 409,
    "update_conflict": 409,
    "key_in_use": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "range_not_satisfiable": 416,
    "rate_limited": 429,
    "internal_error": 500,
    "not_ready": 503,
}


class ApiError(Exception):
    """A request failed with a protocol error ``code``; the app answers it as JSON."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        if code not in STATUS_BY_CODE:
            raise KeyError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status of this error's code."""
        return STATUS_BY_CODE[self.code]
