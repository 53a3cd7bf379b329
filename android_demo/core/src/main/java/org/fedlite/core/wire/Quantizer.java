package org.fedlite.core.wire;

import org.fedlite.core.DecodeException;

/**
 * The two quantisers of docs/wire-format.md: stochastic {@code uniform} (§3.5, unbiased per value)
 * and {@code eden} centroids (§3.6, unbiased per rotated chunk). Values come in {@code chunk}-long
 * runs, each with one float scale.
 */
final class Quantizer {
    /** Codes and per-chunk scales of a quantised run of values. */
    record Quantized(float[] scales, int[] codes) {
    }

    private static final float[] EDEN_1 = centroids(0x3F4C422A);
    private static final float[] EDEN_2 = centroids(0x3EE7D2C9, 0x3FC1555D);
    private static final float[] EDEN_4 = centroids(0x3E0379FD, 0x3EC6AE44, 0x3F28215E, 0x3F713D39,
            0x3FA0CC2F, 0x3FCF1C25, 0x40046AC7, 0x402EE2BF);

    private Quantizer() {
    }

    static int chunkCount(int count, int chunk) {
        return (int) (((long) count + chunk - 1) / chunk);
    }

    /** Stochastic uniform quantisation; {@code roundingSeed} draws the e-th uniform for value e. */
    static Quantized uniformEncode(float[] values, int bits, int chunk, long roundingSeed) {
        int levels = 1 << bits;
        float[] scales = new float[chunkCount(values.length, chunk)];
        int[] codes = new int[values.length];
        for (int c = 0; c < scales.length; c++) {
            int start = c * chunk;
            int end = Math.min(values.length, start + chunk);
            float s = 0f;
            for (int e = start; e < end; e++) {
                s = Math.max(s, Math.abs(values[e]));
            }
            scales[c] = s;
            if (s == 0f) {
                continue;
            }
            for (int e = start; e < end; e++) {
                double t = ((double) values[e] / (double) s + 1.0) * ((levels - 1) / 2.0);
                double k0 = Math.min(Math.floor(t), levels - 2);
                double f = t - k0;
                codes[e] = (int) k0 + (SplitMix64.uniform(roundingSeed, e) < f ? 1 : 0);
            }
        }
        return new Quantized(scales, codes);
    }

    static double[] uniformDecode(Quantized q, int bits, int chunk) {
        int levels = 1 << bits;
        double[] out = new double[q.codes().length];
        for (int e = 0; e < out.length; e++) {
            double s = q.scales()[e / chunk];
            out[e] = s * ((double) (2 * q.codes()[e] - (levels - 1)) / (double) (levels - 1));
        }
        return out;
    }

    /** EDEN: nearest standard-normal centroid per value, one unbiasing scale per chunk. */
    static Quantized edenEncode(float[] values, int bits, int chunk) {
        float[] table = table(bits);
        double[] bounds = boundaries(table);
        float[] scales = new float[chunkCount(values.length, chunk)];
        int[] codes = new int[values.length];
        for (int c = 0; c < scales.length; c++) {
            int start = c * chunk;
            int end = Math.min(values.length, start + chunk);
            scales[c] = edenChunk(values, start, end, table, bounds, codes);
        }
        return new Quantized(scales, codes);
    }

    private static float edenChunk(float[] values, int start, int end, float[] table, double[] bounds, int[] codes) {
        double s2 = 0.0;
        for (int e = start; e < end; e++) {
            s2 += (double) values[e] * (double) values[e];
        }
        if (s2 == 0.0) {
            java.util.Arrays.fill(codes, start, end, table.length / 2);
            return 0f;
        }
        double sigma = Math.sqrt(s2 / (end - start));
        double dot = 0.0;
        for (int e = start; e < end; e++) {
            double t = values[e] / sigma;
            int code = 0;
            while (code < bounds.length && t >= bounds[code]) {
                code++;
            }
            codes[e] = code;
            dot += (double) values[e] * (double) table[code];
        }
        float scale = (float) (s2 / dot);
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("EDEN scale is not finite (values too large?)");
        }
        return scale;
    }

    static double[] edenDecode(Quantized q, int bits, int chunk) {
        float[] table = table(bits);
        double[] out = new double[q.codes().length];
        for (int e = 0; e < out.length; e++) {
            out[e] = (double) q.scales()[e / chunk] * (double) table[q.codes()[e]];
        }
        return out;
    }

    /** Rejects scales that are negative, NaN or infinite. */
    static void checkScales(float[] scales, String what) {
        for (float scale : scales) {
            if (!(scale >= 0f) || Float.isInfinite(scale)) {
                throw new DecodeException(what + ": invalid scale " + scale);
            }
        }
    }

    private static float[] table(int bits) {
        switch (bits) {
            case 1: return EDEN_1;
            case 2: return EDEN_2;
            case 4: return EDEN_4;
            default: throw new IllegalArgumentException("eden has no " + bits + "-bit table");
        }
    }

    private static double[] boundaries(float[] table) {
        double[] bounds = new double[table.length - 1];
        for (int i = 0; i < bounds.length; i++) {
            bounds[i] = ((double) table[i] + (double) table[i + 1]) / 2;
        }
        return bounds;
    }

    /** The ascending table from the positive half's bit patterns: negatives first, then positives. */
    private static float[] centroids(int... positiveBits) {
        int half = positiveBits.length;
        float[] table = new float[2 * half];
        for (int i = 0; i < half; i++) {
            float value = Float.intBitsToFloat(positiveBits[i]);
            table[half + i] = value;
            table[half - 1 - i] = -value;
        }
        return table;
    }
}
