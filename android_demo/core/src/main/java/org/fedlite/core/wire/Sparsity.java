package org.fedlite.core.wire;

import java.util.Arrays;
import org.fedlite.core.DecodeException;

/**
 * Sparsification (docs/wire-format.md §3.2–3.3): top-k by magnitude with Elias–Fano index
 * coding, and random-k whose indices both sides derive from the selection seed.
 */
final class Sparsity {
    private Sparsity() {
    }

    /** {@code k = max(1, ceil(m * ppm / 10^6))}, capped at m; 0 when m is 0. */
    static int kFor(long m, long ppm) {
        if (m == 0) {
            return 0;
        }
        long k = Math.max(1, (m * ppm + 999_999) / 1_000_000);
        return (int) Math.min(k, m);
    }

    /** The k positions of largest |z| (ties to the lower index), in increasing order. */
    static int[] topk(float[] z, int k) {
        long[] keys = new long[z.length];
        for (int e = 0; e < z.length; e++) {
            long magnitude = Float.floatToRawIntBits(z[e]) & 0x7FFFFFFFL;
            keys[e] = (magnitude << 32) | (0xFFFFFFFFL - e);
        }
        Arrays.sort(keys); // magnitudes have bit 63 clear: signed order is unsigned order
        int[] indices = new int[k];
        for (int j = 0; j < k; j++) {
            indices[j] = (int) (0xFFFFFFFFL - (keys[keys.length - 1 - j] & 0xFFFFFFFFL));
        }
        Arrays.sort(indices);
        return indices;
    }

    /** The k positions of smallest unsigned key {@code (out(seed, e) & ~0xFFFFFFFF) | e}, in increasing order. */
    static int[] randk(long m, int k, long selectionSeed) {
        long[] keys = new long[(int) m];
        for (int e = 0; e < m; e++) {
            // flipping bit 63 turns unsigned order into signed order
            keys[e] = ((SplitMix64.out(selectionSeed, e) & 0xFFFFFFFF00000000L) | e) ^ Long.MIN_VALUE;
        }
        Arrays.sort(keys);
        int[] indices = new int[k];
        for (int j = 0; j < k; j++) {
            indices[j] = (int) (keys[j] & 0xFFFFFFFFL);
        }
        Arrays.sort(indices);
        return indices;
    }

    /** L, the number of low bits per index, for k of m. */
    static int lowBits(long m, int k) {
        long q = m / k;
        return 63 - Long.numberOfLeadingZeros(q);
    }

    static int lowsBytes(long m, int k) {
        return BitStream.bytesFor((long) k * lowBits(m, k));
    }

    static int highsBytes(long m, int k) {
        return BitStream.bytesFor(k + (m >> lowBits(m, k)));
    }

    /** Elias–Fano coding of increasing indices: the lows stream then the highs bitmap. */
    static byte[][] eliasFano(int[] indices, long m) {
        int k = indices.length;
        int low = lowBits(m, k);
        int[] lows = new int[k];
        byte[] highs = new byte[highsBytes(m, k)];
        for (int j = 0; j < k; j++) {
            lows[j] = indices[j] & ((1 << low) - 1);
            long position = (indices[j] >>> low) + (long) j;
            highs[(int) (position >>> 3)] |= (byte) (1 << (position & 7));
        }
        return new byte[][] {BitStream.pack(lows, low), highs};
    }

    /** Decodes Elias–Fano indices from {@code raw[offset..]}, rejecting anything malformed. */
    static int[] decodeEliasFano(byte[] raw, int offset, long m, int k, String what) {
        int low = lowBits(m, k);
        int[] lows = BitStream.unpack(raw, offset, k, low, what + " index lows");
        int highsOffset = offset + lowsBytes(m, k);
        long bits = k + (m >> low);
        int[] indices = new int[k];
        int found = 0;
        for (long p = 0; p < bits; p++) {
            if (BitStream.bit(raw, highsOffset, p) == 0) {
                continue;
            }
            if (found == k) {
                throw new DecodeException(what + ": index highs have more than k=" + k + " set bits");
            }
            long index = ((p - found) << low) | lows[found];
            if (index >= m || (found > 0 && index <= indices[found - 1])) {
                throw new DecodeException(what + ": indices are not strictly increasing below " + m);
            }
            indices[found++] = (int) index;
        }
        if (found != k) {
            throw new DecodeException(what + ": index highs have " + found + " set bits, expected " + k);
        }
        BitStream.checkPadding(raw, highsOffset, bits, highsBytes(m, k), what + " index highs");
        return indices;
    }
}
