package org.fedlite.core.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fedlite.core.DecodeException;

/**
 * Reads the named metadata buffers and the signatures' input names of a .tflite flatbuffer
 * (schema.fbs: Model.buffers = field 4, Model.metadata = field 6, Model.signature_defs = field 7;
 * Metadata.name = 0, Metadata.buffer = 1; Buffer.data = 0, Buffer.offset = 1, Buffer.size = 2;
 * SignatureDef.inputs = 0, SignatureDef.signature_key = 2; TensorMap.name = 0). Every access is
 * bounds-checked, so a truncated or corrupt file raises {@link DecodeException}.
 */
public final class TfliteMetadata {
    private final byte[] bytes;
    private final ByteBuffer data;

    private TfliteMetadata(byte[] model) {
        this.bytes = model;
        this.data = ByteBuffer.wrap(model).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** All metadata buffers of {@code model}, by name. */
    public static Map<String, byte[]> read(byte[] model) {
        TfliteMetadata reader = open(model);
        return reader.metadata(reader.u32(0));
    }

    /** The input names of each signature of {@code model}, by signature key. */
    public static Map<String, List<String>> signatureInputs(byte[] model) {
        TfliteMetadata reader = open(model);
        Map<String, List<String>> signatures = new LinkedHashMap<>();
        for (int signature : reader.tables(reader.u32(0), 7)) {
            List<String> inputs = new ArrayList<>();
            for (int tensorMap : reader.tables(signature, 0)) {
                inputs.add(reader.string(tensorMap, 0));
            }
            signatures.put(reader.string(signature, 2), inputs);
        }
        return signatures;
    }

    private static TfliteMetadata open(byte[] model) {
        if (model.length < 8 || model[4] != 'T' || model[5] != 'F' || model[6] != 'L' || model[7] != '3') {
            throw new DecodeException("not a TFLite model: the file identifier 'TFL3' is missing");
        }
        return new TfliteMetadata(model);
    }

    private Map<String, byte[]> metadata(int model) {
        List<Integer> buffers = tables(model, 4);
        Map<String, byte[]> entries = new LinkedHashMap<>();
        for (int entry : tables(model, 6)) {
            long index = scalarU32(entry, 1);
            if (index >= buffers.size()) {
                throw new DecodeException("TFLite: metadata entry points at buffer " + index + " of " + buffers.size());
            }
            entries.put(string(entry, 0), bufferBytes(buffers.get((int) index)));
        }
        return entries;
    }

    private byte[] bufferBytes(int buffer) {
        Integer vector = indirect(buffer, 0);
        if (vector != null) {
            return bytesAt(vector);
        }
        long offset = scalarU64(buffer, 1);
        long size = scalarU64(buffer, 2);
        if (offset < 0 || size < 0 || offset + size > data.capacity()) {
            throw new DecodeException("TFLite: buffer at offset " + offset + " of " + size + " bytes runs past the end");
        }
        return Arrays.copyOfRange(bytes, (int) offset, (int) (offset + size));
    }

    private Integer fieldPos(int table, int fieldId) {
        int vtable = table - i32(table);
        int vtableSize = u16(vtable);
        int slot = 4 + 2 * fieldId;
        if (slot + 2 > vtableSize) {
            return null;
        }
        int offset = u16(vtable + slot);
        return offset == 0 ? null : table + offset;
    }

    private long scalarU32(int table, int fieldId) {
        Integer pos = fieldPos(table, fieldId);
        return pos == null ? 0 : u32(pos) & 0xffffffffL;
    }

    private long scalarU64(int table, int fieldId) {
        Integer pos = fieldPos(table, fieldId);
        if (pos == null) {
            return 0;
        }
        check(pos, 8);
        return data.getLong(pos);
    }

    private Integer indirect(int table, int fieldId) {
        Integer pos = fieldPos(table, fieldId);
        return pos == null ? null : pos + u32(pos);
    }

    private List<Integer> tables(int table, int fieldId) {
        Integer vector = indirect(table, fieldId);
        List<Integer> out = new ArrayList<>();
        if (vector == null) {
            return out;
        }
        int count = count(vector, 4);
        for (int i = 0; i < count; i++) {
            int slot = vector + 4 + 4 * i;
            out.add(slot + u32(slot));
        }
        return out;
    }

    private String string(int table, int fieldId) {
        Integer vector = indirect(table, fieldId);
        return vector == null ? "" : new String(bytesAt(vector), StandardCharsets.UTF_8);
    }

    private byte[] bytesAt(int vector) {
        int count = count(vector, 1);
        return Arrays.copyOfRange(bytes, vector + 4, vector + 4 + count);
    }

    private int count(int vector, int itemSize) {
        int count = u32(vector);
        if ((long) vector + 4 + (long) count * itemSize > data.capacity()) {
            throw new DecodeException("TFLite: vector of " + count + " items at offset " + vector + " runs past the end");
        }
        return count;
    }

    private int u32(int pos) {
        int value = i32(pos);
        if (value < 0) {
            throw new DecodeException("TFLite: offset " + (value & 0xffffffffL) + " at " + pos + " is out of range");
        }
        return value;
    }

    private int i32(int pos) {
        check(pos, 4);
        return data.getInt(pos);
    }

    private int u16(int pos) {
        check(pos, 2);
        return data.getShort(pos) & 0xffff;
    }

    private void check(int pos, int size) {
        if (pos < 0 || (long) pos + size > data.capacity()) {
            throw new DecodeException("TFLite: truncated flatbuffer: read of " + size + " bytes at offset " + pos
                    + " past end " + data.capacity());
        }
    }
}
