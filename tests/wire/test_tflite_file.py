"""The pure flatbuffer reader: op audit and metadata of real converted models; corrupt input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_sdk.wire.tflite_file import TFLiteFormatError, parse_tflite


@pytest.fixture(scope="module")
def cnn_bytes(digits_cnn_tflite) -> bytes:
    return digits_cnn_tflite.read_bytes()


def test_reads_ops_signatures_and_metadata_of_a_converted_model(cnn_bytes: bytes) -> None:
    model = parse_tflite(cnn_bytes)
    assert model.version == 3
    assert {"DEPTHWISE_CONV_2D", "BATCH_MATMUL", "MAX_POOL_2D", "AVERAGE_POOL_2D"} <= set(model.op_counts)
    assert model.builtin_only and model.flex_ops == () and model.custom_ops == ()
    assert {"train", "evaluate", "infer", "get_weights", "set_weights"} <= set(model.signatures)
    assert model.metadata["fedlite_manifest"].startswith(b"{")


def test_op_audit_lists_builtins_sorted(cnn_bytes: bytes) -> None:
    audit = parse_tflite(cnn_bytes).op_audit()
    assert audit["builtin"] == sorted(audit["builtin"])
    assert audit["flex_ops"] == [] and audit["builtin_only"] is True


def test_flex_ops_are_reported_without_prefix() -> None:
    model = parse_tflite(_tiny_model(custom_codes=["FlexReluGrad", "MyCustom"]))
    assert model.flex_ops == ("ReluGrad",)
    assert model.custom_ops == ("FlexReluGrad", "MyCustom")
    assert not model.builtin_only
    assert model.op_audit()["custom_ops"] == ["MyCustom"]


@pytest.mark.parametrize("data", [b"", b"TFL3", b"\x00" * 64, b"PK\x03\x04" + b"\x00" * 60])
def test_non_tflite_bytes_are_rejected_clearly(data: bytes) -> None:
    with pytest.raises(TFLiteFormatError, match="TFL3"):
        parse_tflite(data)


def test_every_truncation_raises_format_error_only(cnn_bytes: bytes) -> None:
    for cut in range(8, len(cnn_bytes), max(1, len(cnn_bytes) // 400)):
        try:
            parse_tflite(cnn_bytes[:cut])
        except TFLiteFormatError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_bytes_raise_format_error_only(cnn_bytes: bytes, data: st.DataObject) -> None:
    corrupted = bytearray(cnn_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(8, len(corrupted) - 1))
        corrupted[position] = data.draw(st.integers(0, 255))
    try:
        parse_tflite(bytes(corrupted))
    except TFLiteFormatError:
        pass


def _tiny_model(custom_codes: list[str]) -> bytes:
    """A minimal TFL3 flatbuffer with one custom operator code per name and no subgraphs."""
    import flatbuffers

    builder = flatbuffers.Builder(256)
    codes = []
    for name in custom_codes:
        text = builder.CreateString(name)
        builder.StartObject(4)
        builder.PrependInt32Slot(3, 32, 0)  # builtin_code = CUSTOM
        builder.PrependUOffsetTRelativeSlot(1, text, 0)
        builder.PrependInt8Slot(0, 32, 0)  # deprecated_builtin_code = CUSTOM
        codes.append(builder.EndObject())
    builder.StartVector(4, len(codes), 4)
    for code in reversed(codes):
        builder.PrependUOffsetTRelative(code)
    vector = builder.EndVector()
    builder.StartObject(8)
    builder.PrependUint32Slot(0, 3, 0)
    builder.PrependUOffsetTRelativeSlot(1, vector, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    assert struct.unpack_from("<4s", data, 4)[0] == b"TFL3"
    return data
