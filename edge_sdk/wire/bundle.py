"""The bundle container: header, JSON metadata, tensor records, CRC-32 (docs/wire-format.md §1–2).

``write_bundle`` and ``read_bundle`` know the framing only; what a record's payload means is the
pipeline's business. ``read_bundle`` checks the CRC before it interprets any record.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge_sdk.wire import binary
from edge_sdk.wire.binary import ByteReader
from edge_sdk.wire.encoding import Encoding, read_encoding
from edge_sdk.wire.errors import DecodeError

MAGIC = b"FLWB"
VERSION = 1
KIND_WEIGHTS = 1
KIND_UPDATE = 2
KIND_NAMES = {KIND_WEIGHTS: "weights", KIND_UPDATE: "update"}
DTYPE_FLOAT32 = 1
HEADER_BYTES = 16
CRC_BYTES = 4
MAX_META_BYTES = 65536
MAX_TENSORS = 65536
MAX_NAME_BYTES = 1024
MAX_RANK = 8
MAX_ELEMENTS = 1 << 30


@dataclass(frozen=True)
class Record:
    """One tensor record as framed on the wire (payload still encoded)."""

    name: str
    shape: tuple[int, ...]
    encoding: Encoding
    payload: bytes | memoryview


def encode_meta(meta: Mapping) -> bytes:
    """Compact, key-sorted UTF-8 JSON of ``meta``; ValueError if it is not a small JSON object."""
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be a mapping, got {type(meta).__name__}")
    data = json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    encoded = data.encode("utf-8")
    if len(encoded) > MAX_META_BYTES:
        raise ValueError(f"meta is {len(encoded)} bytes of JSON, more than {MAX_META_BYTES}")
    return encoded


def record_header_size(name: str, rank: int, encoding: Encoding) -> int:
    """Bytes of a record before its payload."""
    return 2 + len(name.encode("utf-8")) + 2 + 4 * rank + len(encoding.header()) + 4


def write_bundle(kind: int, meta: Mapping, records: Sequence[Record]) -> bytes:
    """The bundle bytes, CRC included."""
    meta_bytes = encode_meta(meta)
    parts = [MAGIC, binary.u8(VERSION), binary.u8(kind), binary.u16(0)]
    parts += [binary.u32(len(meta_bytes)), binary.u32(len(records)), meta_bytes]
    parts += [_record_bytes(record) for record in records]
    body = b"".join(parts)
    return body + binary.u32(zlib.crc32(body))


def _record_bytes(record: Record) -> bytes:
    name = record.name.encode("utf-8") if isinstance(record.name, str) else b""
    if not 1 <= len(name) <= MAX_NAME_BYTES:
        raise ValueError(f"tensor name {record.name!r} must be a string of 1 to {MAX_NAME_BYTES} UTF-8 bytes")
    dims = b"".join(binary.u32(d) for d in record.shape)
    head = binary.u16(len(name)) + name + binary.u8(DTYPE_FLOAT32) + binary.u8(len(record.shape)) + dims
    return head + record.encoding.header() + binary.u32(len(record.payload)) + bytes(record.payload)


def read_bundle(data: bytes, kind: int, max_bytes: int | None = None) -> tuple[dict, list[Record]]:
    """(meta, records) of a bundle of the given kind; DecodeError on any framing problem."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
    if max_bytes is not None and len(view) > max_bytes:
        raise DecodeError(f"bundle is {len(view)} bytes, more than the limit of {max_bytes}")
    _check_frame(view, kind)
    reader = ByteReader(view, 8, len(view) - CRC_BYTES)
    meta_len, count = reader.u32("meta length"), reader.u32("tensor count")
    if meta_len > MAX_META_BYTES or count > MAX_TENSORS:
        raise DecodeError(f"meta length {meta_len} or tensor count {count} over the limits")
    meta = decode_meta(reader.take(meta_len, "meta"))
    records = [_read_record(reader, index) for index in range(count)]
    if reader.pos != reader.end:
        raise DecodeError(f"{reader.end - reader.pos} unexpected bytes after the last record")
    return meta, records


def _check_frame(view: memoryview, kind: int) -> None:
    if len(view) < HEADER_BYTES + CRC_BYTES:
        raise DecodeError(f"bundle is {len(view)} bytes, shorter than the {HEADER_BYTES + CRC_BYTES}-byte minimum")
    if bytes(view[:4]) != MAGIC:
        raise DecodeError(f"not a FedLite bundle (magic {bytes(view[:4])!r}, expected {MAGIC!r})")
    if view[4] != VERSION:
        raise DecodeError(f"unsupported bundle version {view[4]} (this reader knows {VERSION})")
    if view[5] != kind:
        found = KIND_NAMES.get(view[5], f"unknown kind {view[5]}")
        raise DecodeError(f"expected a {KIND_NAMES[kind]} bundle, got {found}")
    if view[6] or view[7]:
        raise DecodeError("reserved header field is not zero")
    stored, actual = int.from_bytes(view[-4:], "little"), zlib.crc32(view[:-4])
    if stored != actual:
        raise DecodeError(f"CRC-32 mismatch: stored {stored:08x}, computed {actual:08x}")


def decode_meta(raw: bytes | memoryview) -> dict:
    """The metadata object; DecodeError on bad UTF-8, bad or non-standard JSON, duplicate keys."""
    try:
        meta = json.loads(
            bytes(raw).decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"meta is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise DecodeError(f"meta must be a JSON object, got {type(meta).__name__}")
    return meta


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _no_constant(token: str) -> float:
    raise ValueError(f"non-standard number {token}")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"number {token} overflows a double")
    return value


def _read_record(reader: ByteReader, index: int) -> Record:
    where = f"record {index}"
    name_len = reader.u16(f"{where} name length")
    if not 1 <= name_len <= MAX_NAME_BYTES:
        raise DecodeError(f"{where}: name length {name_len} outside [1, {MAX_NAME_BYTES}]")
    try:
        name = bytes(reader.take(name_len, f"{where} name")).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"{where}: name is not valid UTF-8") from None
    try:
        shape = _read_shape(reader)
        encoding = read_encoding(reader)
        payload = reader.take(reader.u32("payload length"), "payload")
    except DecodeError as exc:
        raise DecodeError(f"tensor {name!r}: {exc}") from None
    return Record(name, shape, encoding, payload)


def _read_shape(reader: ByteReader) -> tuple[int, ...]:
    dtype = reader.u8("dtype")
    if dtype != DTYPE_FLOAT32:
        raise DecodeError(f"unknown dtype {dtype} (1 = float32 is the only one)")
    rank = reader.u8("rank")
    if rank > MAX_RANK:
        raise DecodeError(f"rank {rank} exceeds {MAX_RANK}")
    shape = tuple(reader.u32("dimension") for _ in range(rank))
    if math.prod(shape) > MAX_ELEMENTS:
        raise DecodeError(f"shape {list(shape)} has more than {MAX_ELEMENTS} elements")
    return shape
