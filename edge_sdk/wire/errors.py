"""The one error the wire decoders raise."""

from __future__ import annotations

__all__ = ["DecodeError"]


class DecodeError(ValueError):
    """Bytes that are not a valid FedLite bundle; the message names what was wrong and where."""
