package org.fedlite.core.wire;

import org.fedlite.core.DecodeException;

/** LSB-first bit streams of fixed-width fields (docs/wire-format.md, conventions). */
final class BitStream {
    private BitStream() {
    }

    /** Bytes needed for {@code bits} bits. */
    static int bytesFor(long bits) {
        return (int) ((bits + 7) / 8);
    }

    /** Packs {@code values[i]} as a {@code width}-bit field at stream position {@code i * width}. */
    static byte[] pack(int[] values, int width) {
        byte[] out = new byte[bytesFor((long) values.length * width)];
        long position = 0;
        for (int value : values) {
            for (int bit = 0; bit < width; bit++, position++) {
                if (((value >>> bit) & 1) != 0) {
                    out[(int) (position >>> 3)] |= (byte) (1 << (position & 7));
                }
            }
        }
        return out;
    }

    /** Unpacks {@code count} fields of {@code width} bits from {@code data[offset..]}, checking zero padding. */
    static int[] unpack(byte[] data, int offset, int count, int width, String what) {
        int[] values = new int[count];
        long position = 0;
        for (int i = 0; i < count; i++) {
            int value = 0;
            for (int bit = 0; bit < width; bit++, position++) {
                value |= bit(data, offset, position) << bit;
            }
            values[i] = value;
        }
        checkPadding(data, offset, position, bytesFor((long) count * width), what);
        return values;
    }

    /** The bit at stream position {@code position}. */
    static int bit(byte[] data, int offset, long position) {
        return (data[offset + (int) (position >>> 3)] >>> (position & 7)) & 1;
    }

    /** Rejects a stream whose bits from {@code used} to the end of its {@code length} bytes are not zero. */
    static void checkPadding(byte[] data, int offset, long used, int length, String what) {
        for (long position = used; position < (long) length * 8; position++) {
            if (bit(data, offset, position) != 0) {
                throw new DecodeException(what + ": padding bits are not zero");
            }
        }
    }
}
