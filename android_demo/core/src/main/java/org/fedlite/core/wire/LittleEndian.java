package org.fedlite.core.wire;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.fedlite.core.DecodeException;

/** Little-endian writing helpers and a bounds-checked reader whose errors name the field. */
final class LittleEndian {
    private LittleEndian() {
    }

    static void u16(ByteArrayOutputStream out, int value) {
        out.write(value & 0xFF);
        out.write((value >>> 8) & 0xFF);
    }

    static void u32(ByteArrayOutputStream out, long value) {
        for (int i = 0; i < 4; i++) {
            out.write((int) (value >>> (8 * i)) & 0xFF);
        }
    }

    static void u64(ByteArrayOutputStream out, long value) {
        for (int i = 0; i < 8; i++) {
            out.write((int) (value >>> (8 * i)) & 0xFF);
        }
    }

    /** Reads fields from {@code data[position..limit)}; running past the limit is a {@link DecodeException}. */
    static final class Reader {
        private final byte[] data;
        private final int limit;
        private final String what;
        private int position;

        Reader(byte[] data, int position, int limit, String what) {
            this.data = data;
            this.position = position;
            this.limit = limit;
            this.what = what;
        }

        int position() {
            return position;
        }

        int remaining() {
            return limit - position;
        }

        int u8(String field) {
            require(1, field);
            return data[position++] & 0xFF;
        }

        int u16(String field) {
            require(2, field);
            int value = (data[position] & 0xFF) | (data[position + 1] & 0xFF) << 8;
            position += 2;
            return value;
        }

        long u32(String field) {
            require(4, field);
            long value = 0;
            for (int i = 0; i < 4; i++) {
                value |= (long) (data[position + i] & 0xFF) << (8 * i);
            }
            position += 4;
            return value;
        }

        long u64(String field) {
            require(8, field);
            long value = 0;
            for (int i = 0; i < 8; i++) {
                value |= (long) (data[position + i] & 0xFF) << (8 * i);
            }
            position += 8;
            return value;
        }

        byte[] bytes(long length, String field) {
            require(length, field);
            byte[] out = Arrays.copyOfRange(data, position, position + (int) length);
            position += (int) length;
            return out;
        }

        String utf8(int length, String field) {
            byte[] raw = bytes(length, field);
            try {
                CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(raw));
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw new DecodeException(what + ": " + field + " is not valid UTF-8");
            }
        }

        private void require(long length, String field) {
            if (length < 0 || length > limit - position) {
                throw new DecodeException(what + ": truncated: " + field + " needs " + length + " bytes at offset "
                        + position + ", only " + (limit - position) + " left");
            }
        }
    }
}
