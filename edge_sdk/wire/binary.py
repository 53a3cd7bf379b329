"""Little-endian primitives: a bounds-checked reader that raises DecodeError, and writers."""

from __future__ import annotations

import struct

from edge_sdk.wire.errors import DecodeError

_U8, _U16, _U32, _U64 = (struct.Struct(f) for f in ("<B", "<H", "<I", "<Q"))


def u8(value: int) -> bytes:
    return _U8.pack(value)


def u16(value: int) -> bytes:
    return _U16.pack(value)


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u64(value: int) -> bytes:
    return _U64.pack(value)


class ByteReader:
    """Reads little-endian fields from a buffer; running past its end raises DecodeError."""

    def __init__(self, data: bytes | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = memoryview(data)
        self.pos = start
        self.end = len(self._data) if end is None else end

    def take(self, size: int, what: str) -> memoryview:
        """The next ``size`` bytes, as a view."""
        start = self._advance(size, what)
        return self._data[start : start + size]

    def u8(self, what: str) -> int:
        return self._data[self._advance(1, what)]

    def u16(self, what: str) -> int:
        return _U16.unpack_from(self._data, self._advance(2, what))[0]

    def u32(self, what: str) -> int:
        return _U32.unpack_from(self._data, self._advance(4, what))[0]

    def u64(self, what: str) -> int:
        return _U64.unpack_from(self._data, self._advance(8, what))[0]

    def _advance(self, size: int, what: str) -> int:
        """Where the next ``size`` bytes start, once checked to be there; moves past them."""
        start = self.pos
        if size > self.end - start:
            raise DecodeError(f"truncated {what}: needs {size} bytes at offset {start}, {self.end - start} left")
        self.pos = start + size
        return start
