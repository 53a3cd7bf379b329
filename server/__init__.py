"""FedLite aggregation server: rounds, device authentication, aggregation, storage, publishing."""

__all__: list[str] = []
