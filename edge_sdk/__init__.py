"""FedLite device SDK: train a converted model on local data and take part in federated rounds.

Importing this package loads neither TensorFlow nor a TFLite runtime; the runtime is loaded when
a model is opened.
"""

from edge_sdk.client import (
    Client,
    ClientConfig,
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
from edge_sdk.model import DataSpecError, ModelFileError, TrainableModel, WeightsMismatchError

__all__ = [
    "Client",
    "ClientConfig",
    "ClientError",
    "ConfigurationError",
    "ConnectError",
    "DataError",
    "DataSpecError",
    "DeviceRevokedError",
    "DiskFullError",
    "EnrolmentError",
    "IntegrityError",
    "ModelFileError",
    "RemoteProtocolError",
    "ServerError",
    "StateError",
    "TLSError",
    "TrainableModel",
    "TransportError",
    "TransportTimeoutError",
    "WeightsMismatchError",
]
__version__ = "0.1.0"
