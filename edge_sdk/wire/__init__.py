"""Byte formats and message types shared by devices and the server: pure, no I/O."""

__all__: list[str] = []
