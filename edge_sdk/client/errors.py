"""The device client's errors: one small tree, so callers never see requests, urllib3 or ssl.

``ClientError`` is the root. ``TransportError`` and its children say what went wrong on the way
to the server; ``ServerError`` carries the status and the error code the server answered.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base class of every error the device client raises on purpose."""


class TransportError(ClientError):
    """The request did not produce a usable answer from the server."""


class ConnectError(TransportError):
    """No connection to the server could be made (refused, unreachable, reset before an answer)."""


class TransportTimeoutError(TransportError):
    """The server did not connect or answer within the configured timeout."""


class TLSError(TransportError):
    """The TLS handshake failed: untrusted certificate, wrong host name, or a public-key pin mismatch."""


class RemoteProtocolError(TransportError, ValueError):
    """The server answered something that is not valid HTTP or not the message the protocol expects."""


class ServerError(TransportError):
    """The server answered with an error status; ``code`` is its error code (docs/protocol.md §2)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"server answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        """True for statuses where trying again later can succeed (429 and 5xx)."""
        return self.status == 429 or self.status >= 500


class DeviceRevokedError(ServerError):
    """The server no longer accepts this device (revoked, unknown, or its key refused): stop."""


class EnrolmentError(ServerError):
    """The server refused the enrolment token (unknown, expired, revoked or used up)."""


class ConfigurationError(ClientError, ValueError):
    """The device is set up wrongly (bad server URL or pin, missing token, foreign state directory)."""


class IntegrityError(ClientError, ValueError):
    """Downloaded bytes do not match the sha256 the server announced; they were discarded."""


class DataError(ClientError, ValueError):
    """The local training data cannot be used with the model (file, shape, dtype or labels)."""


class StateError(ClientError):
    """The state directory cannot be read or written."""


class DiskFullError(StateError):
    """The state directory's file system is full; the previous state was left intact."""
