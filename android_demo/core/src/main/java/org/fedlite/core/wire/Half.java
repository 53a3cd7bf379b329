package org.fedlite.core.wire;

/** IEEE binary16 conversion with round-to-nearest-even, subnormals kept (Java 17 has none built in). */
final class Half {
    /** Bits of 65520.0f: the smallest float that rounds to binary16 infinity. */
    private static final int OVERFLOW_BITS = 0x477FF000;
    /** Bits of 2^-14f, the smallest normal binary16. */
    private static final int MIN_NORMAL_BITS = 0x38800000;

    private Half() {
    }

    /** The binary16 bits nearest {@code value}; rejects values that round to infinity or are not finite. */
    static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs >= OVERFLOW_BITS) {
            throw new IllegalArgumentException("value " + value + " does not fit in float16 (|x| >= 65520 or not finite)");
        }
        if (abs < MIN_NORMAL_BITS) {
            // Subnormal range: a count of 2^-24 units, scaled exactly and rounded half to even.
            return (short) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 16777216.0));
        }
        int half = (((abs >>> 23) - 112) << 10) | ((abs & 0x7FFFFF) >>> 13);
        int rest = abs & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** The exact float value of binary16 bits; NaN for infinities and NaNs (callers reject it). */
    static float toFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0) {
            float magnitude = mantissa * 0x1.0p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 31) {
            return Float.NaN;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }
}
