"""FedLite: federated learning on phones and small Linux boards.

This package is the glue: the ``fedlite`` command and the one-machine demo. The parts live in
``edge_sdk`` (device), ``server`` (aggregation server) and ``converters`` (Keras → trainable TFLite).
"""

__all__: list[str] = []
__version__ = "0.1.0"
