"""FedLite aggregation server: rounds, device authentication, aggregation, storage, publishing."""

from server.accountant import PrivacyAccountant
from server.privacy import DPConfig, GaussianMechanism
from server.robust import clip_factor, coordinate_median, l2_norm, trimmed_mean, weighted_mean
from server.strategies import FedOpt, make_strategy

__all__: list[str] = [
    "DPConfig",
    "FedOpt",
    "GaussianMechanism",
    "PrivacyAccountant",
    "clip_factor",
    "coordinate_median",
    "l2_norm",
    "make_strategy",
    "trimmed_mean",
    "weighted_mean",
]
