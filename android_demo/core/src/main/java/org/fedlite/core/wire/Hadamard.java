package org.fedlite.core.wire;

/**
 * Block-diagonal randomised Hadamard rotation (docs/wire-format.md §3.1): random signs from
 * SplitMix64, then unnormalised butterflies per block. Forward runs in float; the inverse runs in
 * double for readers and in float for the writer's own reconstruction (error feedback), as the
 * Python writer computes it.
 */
final class Hadamard {
    private Hadamard() {
    }

    /** {@code ceil(log2(max(n, 1)))} capped at {@code maxLog2}: the block a tensor of n elements uses. */
    static int log2Block(long n, int maxLog2) {
        int needed = n <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(n - 1);
        return Math.min(maxLog2, needed);
    }

    /** Length of the coded domain: n padded to whole blocks. */
    static long paddedLength(long n, int log2Block) {
        long block = 1L << log2Block;
        return (n + block - 1) / block * block;
    }

    /** Rotates {@code x} (already zero-padded to whole blocks) in place, in float. */
    static void forward(float[] x, int log2Block, long seed) {
        for (int e = 0; e < x.length; e++) {
            if (signFlipped(seed, e)) {
                x[e] = -x[e];
            }
        }
        butterflies(x, 1 << log2Block);
    }

    /** Undoes {@link #forward} in double, in place (the reader's decoding). */
    static void inverse(double[] z, int log2Block, long seed) {
        int block = 1 << log2Block;
        for (int base = 0; base < z.length; base += block) {
            for (int h = 1; h < block; h <<= 1) {
                for (int j = base; j < base + block; j += 2 * h) {
                    for (int i = j; i < j + h; i++) {
                        double a = z[i];
                        double b = z[i + h];
                        z[i] = a + b;
                        z[i + h] = a - b;
                    }
                }
            }
        }
        double scale = 1.0 / block;
        for (int e = 0; e < z.length; e++) {
            z[e] = signFlipped(seed, e) ? -(z[e] * scale) : z[e] * scale;
        }
    }

    /** Undoes {@link #forward} in float, in place (the writer's reconstruction for error feedback). */
    static void inverseInFloat(float[] z, int log2Block, long seed) {
        butterflies(z, 1 << log2Block);
        float scale = 1f / (1 << log2Block);
        for (int e = 0; e < z.length; e++) {
            z[e] = signFlipped(seed, e) ? -(z[e] * scale) : z[e] * scale;
        }
    }

    private static void butterflies(float[] x, int block) {
        for (int base = 0; base < x.length; base += block) {
            for (int h = 1; h < block; h <<= 1) {
                for (int j = base; j < base + block; j += 2 * h) {
                    for (int i = j; i < j + h; i++) {
                        float a = x[i];
                        float b = x[i + h];
                        x[i] = a + b;
                        x[i + h] = a - b;
                    }
                }
            }
        }
    }

    private static boolean signFlipped(long seed, int e) {
        return ((SplitMix64.out(seed, e >>> 6) >>> (e & 63)) & 1) != 0;
    }
}
