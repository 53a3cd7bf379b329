"""The bundle framing: exact header layout, CRC, metadata rules and precise DecodeErrors."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edge_sdk.wire import DecodeError, decode_update, decode_weights, encode_update, encode_weights
from edge_sdk.wire.bundle import KIND_UPDATE, Record, write_bundle
from edge_sdk.wire.encoding import Encoding, TopKParams, Uniform
from tests.wire.codec_helpers import Spec

SPEC = [Spec("b", (2,))]


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def fp32_update(meta: bytes = b"{}", records: bytes | None = None, count: int = 1) -> bytes:
    """A hand-framed update (the layout of docs/wire-format.md §1–2)."""
    if records is None:
        records = struct.pack("<H", 1) + b"b" + bytes([1, 1]) + struct.pack("<I", 2) + bytes([0, 0, 0, 0])
        records += struct.pack("<I", 8) + struct.pack("<2f", 1.0, -2.0)
    return with_crc(b"FLWB" + bytes([1, 2, 0, 0]) + struct.pack("<II", len(meta), count) + meta + records)


def test_hand_framed_bundle_is_byte_identical_to_the_writer() -> None:
    ours = encode_update({"b": np.array([1.0, -2.0], np.float32)}, "fp32", seed=0, meta={})[0]
    assert ours == fp32_update()
    assert decode_update(ours, SPEC)["b"].tolist() == [1.0, -2.0]


def test_meta_is_compact_sorted_utf8_json() -> None:
    data = encode_update({"b": np.zeros(2)}, "fp32", seed=0, meta={"z": 1, "a": "é", "m": [0.5]})[0]
    assert data[16 : 16 + struct.unpack_from("<I", data, 8)[0]] == '{"a":"é","m":[0.5],"z":1}'.encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than the 20-byte minimum"),
        (b"XXXX" + fp32_update()[4:], "not a FedLite bundle"),
        (fp32_update()[:4] + b"\x02" + fp32_update()[5:], "unsupported bundle version 2"),
        (fp32_update()[:5] + b"\x01" + fp32_update()[6:], "expected a update bundle, got weights"),
        (fp32_update()[:5] + b"\x09" + fp32_update()[6:], "got unknown kind 9"),
        (fp32_update()[:-1] + bytes([fp32_update()[-1] ^ 1]), "CRC-32 mismatch"),
        (fp32_update() + b"\0", "CRC-32 mismatch"),
        (with_crc(fp32_update()[:-4] + b"\0"), "1 unexpected bytes after the last record"),
        (with_crc(fp32_update()[:-5]), "truncated payload"),
        (fp32_update(count=2), "truncated record 1 name length"),
        (fp32_update(meta=b"[]"), "meta must be a JSON object, got list"),
        (fp32_update(meta=b'{"a":1,"a":2}'), "duplicate key"),
        (fp32_update(meta=b'{"a":{"b":1,"b":1}}'), "duplicate key"),
        (fp32_update(meta=b'{"a":NaN}'), "non-standard number NaN"),
        (fp32_update(meta=b'{"a":1e999}'), "overflows a double"),
        (fp32_update(meta=b'{"a":"\xff"}'), "meta is not valid JSON"),
        (fp32_update(meta=b"[" * 100000), "meta length 100000"),
        (fp32_update(meta=b"[" * 60000), "meta is not valid JSON"),
    ],
)
def test_framing_errors_name_what_was_wrong(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_update(data, SPEC)


def record(
    name: bytes = b"b", dtype: int = 1, shape: tuple = (2,), encoding: bytes = bytes(4), payload: bytes = bytes(8)
) -> bytes:
    head = (
        struct.pack("<H", len(name)) + name + bytes([dtype, len(shape)]) + b"".join(struct.pack("<I", d) for d in shape)
    )
    return head + encoding + struct.pack("<I", len(payload)) + payload


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (record(name=b""), "record 0: name length 0"),
        (record(name=b"\xff"), "record 0: name is not valid UTF-8"),
        (record(dtype=2), "tensor 'b': unknown dtype 2"),
        (record(shape=(1,) * 9), "tensor 'b': rank 9 exceeds 8"),
        (record(shape=(2**16, 2**15)), "more than 1073741824 elements"),
        (record(encoding=bytes([2, 0, 0, 0])), "tensor 'b': unknown transform 2"),
        (record(encoding=bytes([1, 17]) + bytes(8) + bytes(3)), "log2_block 17 exceeds 16"),
        (record(encoding=bytes([0, 3, 0, 0])), "unknown sparsity 3"),
        (record(encoding=bytes([0, 0, 4, 0])), "unknown value coding 4"),
        (record(encoding=bytes([0, 0, 2, 3]) + struct.pack("<I", 4) + bytes(1)), "uniform bits must be one of"),
        (
            record(encoding=bytes([0, 0, 3, 8]) + struct.pack("<I", 4) + bytes(1)),
            r"eden bits must be one of \(1, 2, 4\)",
        ),
        (record(encoding=bytes([0, 0, 2, 8]) + struct.pack("<I", 0) + bytes(1)), "uniform chunk must be in"),
        (record(encoding=bytes([0, 0, 0, 2])), "unknown entropy coding 2"),
        (record(payload=bytes(7)), "tensor 'b': payload 7 bytes, expected 8"),
        (record(payload=struct.pack("<2f", 1, float("nan"))), "tensor 'b': value 1 is nan"),
        (record(encoding=bytes([0, 1]) + struct.pack("<I", 3) + bytes(2)), r"tensor 'b': k = 3 is outside \[1, 2\]"),
        (record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=b"xx"), "damaged zlib stream"),
        (
            record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(799))),
            "does not inflate to exactly 800",
        ),
        (
            record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(801))),
            "does not inflate to exactly 800",
        ),
        (
            record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(800))[:-1]),
            "does not inflate to exactly 800",
        ),
        (
            record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(800)) + b"\0"),
            "does not inflate to exactly 800",
        ),
        (
            record(shape=(200,), encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(10**5), 9)),
            "does not inflate to exactly 800",
        ),
        (record(encoding=bytes([0, 0, 0, 1]), payload=zlib.compress(bytes(8), 0)), "not smaller than its raw size"),
    ],
)
def test_record_errors_name_the_tensor_and_the_field(records: bytes, message: str) -> None:
    spec = [Spec("b", (200,))] if b"\xc8\x00\x00\x00" in records else SPEC
    with pytest.raises(DecodeError, match=message):
        decode_update(fp32_update(records=records), spec)


def test_sparse_index_and_code_padding_must_be_canonical() -> None:
    """Top-1 of 2 values, 4-bit codes: lows (1 bit), highs (2 bits), one scale, one code."""
    encoding = Encoding(Uniform(4, 8), sparsity=TopKParams(1))
    scale = np.float32(1).tobytes()

    def bundle(payload: bytes) -> bytes:
        return write_bundle(KIND_UPDATE, {}, [Record("b", (2,), encoding, payload)])

    assert decode_update(bundle(bytes([0, 0b01]) + scale + bytes([0x0F])), SPEC)["b"].tolist() == [1.0, 0.0]
    assert decode_update(bundle(bytes([1, 0b01]) + scale + bytes([0x0F])), SPEC)["b"].tolist() == [0.0, 1.0]
    for payload, message in [
        (bytes([0, 0b11]) + scale + bytes([0x0F]), "index highs have 2 set bits"),
        (bytes([0, 0b101]) + scale + bytes([0x0F]), "index highs have non-zero padding"),
        (bytes([0b10, 0b01]) + scale + bytes([0x0F]), "index lows have non-zero padding"),
        (bytes([0, 0b01]) + scale + bytes([0x1F]), "code stream has non-zero padding"),
        (bytes([0, 0b01]) + scale, "payload 6 bytes, expected 7"),
    ]:
        with pytest.raises(DecodeError, match=message):
            decode_update(bundle(payload), SPEC)


def test_weights_and_updates_are_not_interchangeable() -> None:
    weights = encode_weights({"b": np.zeros(2)}, meta={})
    with pytest.raises(DecodeError, match="expected a update bundle, got weights"):
        decode_update(weights, SPEC)
    with pytest.raises(DecodeError, match="expected a weights bundle, got update"):
        decode_weights(fp32_update(), SPEC)
    quantised = write_bundle(1, {}, [Record("b", (2,), Encoding(Uniform(8, 2)), bytes(6))])
    with pytest.raises(DecodeError, match="a weights bundle holds only float32 or float16 values"):
        decode_weights(quantised, SPEC)


def test_float16_weights_halve_the_payload() -> None:
    weights = {"w": np.linspace(-1, 1, 1000, dtype=np.float32)}
    full, half = encode_weights(weights, meta={}), encode_weights(weights, dtype="float16", meta={})
    assert len(full) - len(half) == 2000
    _, decoded = decode_weights(half, [Spec("w", (1000,))])
    np.testing.assert_array_equal(decoded["w"], weights["w"].astype(np.float16).astype(np.float32))
    with pytest.raises(ValueError, match="dtype must be one of"):
        encode_weights(weights, dtype="int8", meta={})
