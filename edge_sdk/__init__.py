"""FedLite device SDK: train a converted model on local data and take part in federated rounds.

Importing this package loads neither TensorFlow nor a TFLite runtime; the runtime is loaded when
a model is opened.
"""

__all__: list[str] = []
__version__ = "0.1.0"
