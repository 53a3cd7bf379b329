"""A small pure reader for TensorFlow Lite flatbuffers: operator audit and embedded metadata.

Reads only what FedLite needs (operator codes, operators, signatures, metadata buffers) with a
bounds check on every access, so a truncated or corrupt file raises :class:`TFLiteFormatError`
(a ``ValueError``) instead of an ``IndexError`` or ``struct.error``. Needs neither TensorFlow nor
a TFLite runtime. Field numbers follow the TFLite schema (``tensorflow/lite/schema/schema.fbs``).
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["TFLiteFile", "TFLiteFormatError", "parse_tflite"]

FILE_IDENTIFIER = b"TFL3"
CUSTOM_CODE = 32
FLEX_PREFIX = "Flex"

# BuiltinOperator enum, indexed by code.
_BUILTIN_NAMES = """
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE
EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D
LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1
RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS
SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER
BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE
UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT
LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG
PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE
EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD
REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV
REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU
SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE
RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE
NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM
BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D
IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL
CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS
RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE
RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD
STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP
STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE
STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE
STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT
STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA
STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE
STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW
STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
""".split()


class TFLiteFormatError(ValueError):
    """The bytes are not a readable TFLite flatbuffer; the message says what is wrong."""


@dataclass(frozen=True)
class TFLiteFile:
    """What FedLite reads from a .tflite: schema version, ops used, signatures and metadata."""

    version: int
    op_counts: dict[str, int]
    custom_ops: tuple[str, ...]
    signatures: tuple[str, ...]
    metadata: dict[str, bytes] = field(repr=False)

    @property
    def flex_ops(self) -> tuple[str, ...]:
        """Custom ops that need the Flex (select TF ops) delegate, without the ``Flex`` prefix."""
        return tuple(sorted({op[len(FLEX_PREFIX):] for op in self.custom_ops if op.startswith(FLEX_PREFIX)}))

    @property
    def builtin_only(self) -> bool:
        """True when every operator is a TFLite builtin."""
        return not self.custom_ops

    def op_audit(self) -> dict:
        """The operator audit as stored in a manifest's ``ops`` field."""
        builtin = sorted(name for name in self.op_counts if name not in self.custom_ops)
        return {
            "builtin": builtin,
            "flex_ops": list(self.flex_ops),
            "custom_ops": sorted(op for op in self.custom_ops if not op.startswith(FLEX_PREFIX)),
            "builtin_only": self.builtin_only,
        }


class _Reader:
    """Bounds-checked access to flatbuffer tables, vectors and strings."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)

    def unpack(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise TFLiteFormatError(f"truncated flatbuffer: read of {size} bytes at offset {pos} past end {len(self.data)}")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def field_pos(self, table: int, field_id: int) -> int | None:
        vtable = table - self.unpack("i", table)
        vtable_size = self.unpack("H", vtable)
        slot = 4 + 2 * field_id
        if slot + 2 > vtable_size:
            return None
        offset = self.unpack("H", vtable + slot)
        return table + offset if offset else None

    def scalar(self, table: int, field_id: int, fmt: str, default: int = 0) -> int:
        pos = self.field_pos(table, field_id)
        return default if pos is None else self.unpack(fmt, pos)

    def indirect(self, table: int, field_id: int) -> int | None:
        pos = self.field_pos(table, field_id)
        return None if pos is None else pos + self.unpack("I", pos)

    def tables(self, table: int, field_id: int) -> list[int]:
        vector = self.indirect(table, field_id)
        if vector is None:
            return []
        count = self._count(vector, 4)
        return [vector + 4 + 4 * i + self.unpack("I", vector + 4 + 4 * i) for i in range(count)]

    def bytes_at(self, vector: int) -> bytes:
        count = self._count(vector, 1)
        return bytes(self.data[vector + 4 : vector + 4 + count])

    def string(self, table: int, field_id: int) -> str:
        vector = self.indirect(table, field_id)
        if vector is None:
            return ""
        try:
            return self.bytes_at(vector).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TFLiteFormatError(f"invalid UTF-8 in a string at offset {vector}") from exc

    def _count(self, vector: int, item_size: int) -> int:
        count = self.unpack("I", vector)
        if vector + 4 + count * item_size > len(self.data):
            raise TFLiteFormatError(f"truncated flatbuffer: vector of {count} items at offset {vector} runs past the end")
        return count


def _op_code(reader: _Reader, code_table: int) -> int:
    """The BuiltinOperator code: the larger of ``deprecated_builtin_code`` and ``builtin_code``."""
    return max(reader.scalar(code_table, 0, "b"), reader.scalar(code_table, 3, "i"))


def _op_name(reader: _Reader, code_table: int, code: int) -> str:
    if code == CUSTOM_CODE:
        return reader.string(code_table, 1) or "CUSTOM"
    if not 0 <= code < len(_BUILTIN_NAMES):
        return f"BUILTIN_{code}"
    return _BUILTIN_NAMES[code]


def _buffer_bytes(reader: _Reader, buffer_table: int) -> bytes:
    vector = reader.indirect(buffer_table, 0)
    if vector is not None:
        return reader.bytes_at(vector)
    offset, size = reader.scalar(buffer_table, 1, "Q"), reader.scalar(buffer_table, 2, "Q")
    if offset + size > len(reader.data):
        raise TFLiteFormatError(f"buffer at offset {offset} of {size} bytes runs past the end of the file")
    return bytes(reader.data[offset : offset + size])


def _metadata(reader: _Reader, model: int) -> dict[str, bytes]:
    buffers = reader.tables(model, 4)
    entries = {}
    for entry in reader.tables(model, 6):
        index = reader.scalar(entry, 1, "I")
        if index >= len(buffers):
            raise TFLiteFormatError(f"metadata entry points at buffer {index} of {len(buffers)}")
        entries[reader.string(entry, 0)] = _buffer_bytes(reader, buffers[index])
    return entries


def _op_counts(reader: _Reader, model: int, names: list[str]) -> Counter:
    counts: Counter = Counter()
    for subgraph in reader.tables(model, 2):
        for operator in reader.tables(subgraph, 3):
            index = reader.scalar(operator, 0, "I")
            if index >= len(names):
                raise TFLiteFormatError(f"operator uses opcode {index} of {len(names)}")
            counts[names[index]] += 1
    return counts


def parse_tflite(data: bytes) -> TFLiteFile:
    """Parse a .tflite flatbuffer; raise :class:`TFLiteFormatError` if it is not one."""
    if len(data) < 8 or bytes(data[4:8]) != FILE_IDENTIFIER:
        raise TFLiteFormatError("not a TFLite model: the file identifier 'TFL3' is missing (truncated or wrong file?)")
    reader = _Reader(data)
    model = reader.unpack("I", 0)
    tables = reader.tables(model, 1)
    codes = [_op_code(reader, table) for table in tables]
    names = [_op_name(reader, table, code) for table, code in zip(tables, codes)]
    custom = {name for name, code in zip(names, codes) if code == CUSTOM_CODE}
    return TFLiteFile(
        version=reader.scalar(model, 0, "I"),
        op_counts=dict(sorted(_op_counts(reader, model, names).items())),
        custom_ops=tuple(sorted(custom)),
        signatures=tuple(reader.string(sig, 2) for sig in reader.tables(model, 7)),
        metadata=_metadata(reader, model),
    )
