"""The device client: enrol, check in, download, train, encode and upload, round after round.

:class:`Client` is the driver; :mod:`edge_sdk.client.round` the pure state machine it follows;
:class:`Transport` the one seam to the network (:class:`MockTransport` and
:class:`ASGITransport` in process, ``edge_sdk.client.https.HTTPSTransport`` for real).
"""

from edge_sdk.client.asgi import ASGITransport
from edge_sdk.client.client import Client, ClientConfig
from edge_sdk.client.data import LocalData, load_data
from edge_sdk.client.eligibility import EligibilityHooks, EligibilityPolicy
from edge_sdk.client.errors import (
    ClientError,
    ConfigurationError,
    ConnectError,
    DataError,
    DeviceRevokedError,
    DiskFullError,
    EnrolmentError,
    IntegrityError,
    RemoteProtocolError,
    ServerError,
    StateError,
    TLSError,
    TransportError,
    TransportTimeoutError,
)
from edge_sdk.client.round import Abandoned, Failed, RoundPolicy, Uploaded
from edge_sdk.client.transport import MockTransport, Request, Response, RetryingTransport, RetryPolicy, Transport

__all__ = [
    "ASGITransport",
    "Abandoned",
    "Client",
    "ClientConfig",
    "ClientError",
    "ConfigurationError",
    "ConnectError",
    "DataError",
    "DeviceRevokedError",
    "DiskFullError",
    "EligibilityHooks",
    "EligibilityPolicy",
    "EnrolmentError",
    "Failed",
    "IntegrityError",
    "LocalData",
    "MockTransport",
    "RemoteProtocolError",
    "Request",
    "Response",
    "RetryPolicy",
    "RetryingTransport",
    "RoundPolicy",
    "ServerError",
    "StateError",
    "TLSError",
    "Transport",
    "TransportError",
    "TransportTimeoutError",
    "Uploaded",
    "load_data",
]
