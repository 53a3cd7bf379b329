package org.fedlite.core.wire;

/** The wire format's pseudo-random generator (docs/wire-format.md §3.0), addressable by index. */
public final class SplitMix64 {
    private static final long GAMMA = 0x9E3779B97F4A7C15L;
    private static final double TWO_TO_MINUS_32 = 1.0 / 4294967296.0;

    private SplitMix64() {
    }

    /** The SplitMix64 finaliser. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The {@code j}-th (0-based) output of SplitMix64 seeded with {@code seed}. */
    public static long out(long seed, long j) {
        return mix64(seed + (j + 1) * GAMMA);
    }

    /** The {@code e}-th uniform in [0, 1) of stream {@code seed}: 32 bits per draw, two per output. */
    public static double uniform(long seed, long e) {
        long word = out(seed, e >>> 1);
        long bits = (e & 1) == 0 ? word & 0xFFFFFFFFL : word >>> 32;
        return bits * TWO_TO_MINUS_32;
    }

    /** A record's derived seed: {@code out(out(seed, tag), index)}. */
    public static long sub(long seed, long tag, long index) {
        return out(out(seed, tag), index);
    }
}
