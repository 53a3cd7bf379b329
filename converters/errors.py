"""Errors the converter raises for bad input; each message names what was wrong."""

from __future__ import annotations


class ConversionError(ValueError):
    """The model, file or options cannot be converted; the message says why and what would work."""


class UnsupportedLayerError(ConversionError):
    """A layer (or a setting of one) has no builtin-only implementation."""
