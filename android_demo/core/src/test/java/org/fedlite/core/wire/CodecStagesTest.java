package org.fedlite.core.wire;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** The numeric building blocks against the check values and rules of docs/wire-format.md. */
public class CodecStagesTest {
    @Test
    public void splitMixMatchesTheSpecCheckValues() {
        long[] expected = {
            Long.parseUnsignedLong("6457827717110365317"), Long.parseUnsignedLong("3203168211198807973"),
            Long.parseUnsignedLong("9817491932198370423"), Long.parseUnsignedLong("4593380528125082431"),
            Long.parseUnsignedLong("16408922859458223821"),
        };
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], SplitMix64.out(1234567, j));
        }
        assertEquals(Long.parseUnsignedLong("16294208416658607535"), SplitMix64.out(0, 0));
        long word = SplitMix64.out(9, 3);
        assertEquals((word & 0xFFFFFFFFL) / 4294967296.0, SplitMix64.uniform(9, 6), 0.0);
        assertEquals((word >>> 32) / 4294967296.0, SplitMix64.uniform(9, 7), 0.0);
    }

    @Test
    public void float16RoundsToNearestEvenAndKeepsSubnormals() {
        assertEquals(0x3C00, Half.fromFloat(1f) & 0xFFFF);
        assertEquals(0x7BFF, Half.fromFloat(65504f) & 0xFFFF);
        assertEquals(0x7BFF, Half.fromFloat(65519.99f) & 0xFFFF);
        assertEquals(0x0001, Half.fromFloat(0x1.0p-24f) & 0xFFFF);
        assertEquals(0x0000, Half.fromFloat(0x1.0p-25f) & 0xFFFF); // tie to even: 0
        assertEquals(0x0002, Half.fromFloat(0x1.8p-24f) & 0xFFFF); // 1.5 units: tie to even: 2
        assertEquals(0x8000, Half.fromFloat(-0f) & 0xFFFF);
        assertEquals(0x3C00, Half.fromFloat(1f + 0x1.0p-11f) & 0xFFFF); // halfway above 1: even
        assertEquals(0x3C02, Half.fromFloat(1f + 0x1.8p-10f) & 0xFFFF); // halfway, odd below: up
        assertEquals(0x0400, Half.fromFloat(0x1.ffcp-15f) & 0xFFFF); // rounds up into the normals
        assertThrows(IllegalArgumentException.class, () -> Half.fromFloat(65520f));
        assertThrows(IllegalArgumentException.class, () -> Half.fromFloat(Float.NaN));
        for (int bits = 0; bits < 0x7C00; bits++) {
            float value = Half.toFloat((short) bits);
            assertEquals(bits, Half.fromFloat(value) & 0xFFFF);
            assertEquals(bits | 0x8000, Half.fromFloat(-value) & 0xFFFF);
        }
    }

    @Test
    public void hadamardInverseUndoesForward() {
        float[] x = new float[1024];
        for (int i = 0; i < 1000; i++) {
            x[i] = (float) Math.sin(i * 0.37);
        }
        float[] rotated = x.clone();
        Hadamard.forward(rotated, 10, 42);
        double[] back = new double[rotated.length];
        for (int i = 0; i < back.length; i++) {
            back[i] = rotated[i];
        }
        Hadamard.inverse(back, 10, 42);
        for (int i = 0; i < x.length; i++) {
            assertEquals(x[i], back[i], 1e-5);
        }
        assertEquals(0, Hadamard.log2Block(1, 12));
        assertEquals(10, Hadamard.log2Block(1000, 12));
        assertEquals(12, Hadamard.log2Block(100_000, 12));
        assertEquals(102_400, Hadamard.paddedLength(100_000, 12));
    }

    @Test
    public void eliasFanoRoundTripsAndTopkBreaksTiesLow() {
        float[] z = {0.5f, -3f, 3f, 0f, -0f, 1f, 3f, 2f};
        assertArrayEquals(new int[] {1, 2, 6}, Sparsity.topk(z, 3));
        int[] indices = {0, 3, 4, 99, 500, 511};
        byte[][] coded = Sparsity.eliasFano(indices, 512);
        byte[] raw = new byte[coded[0].length + coded[1].length];
        System.arraycopy(coded[0], 0, raw, 0, coded[0].length);
        System.arraycopy(coded[1], 0, raw, coded[0].length, coded[1].length);
        assertEquals(Sparsity.lowsBytes(512, 6) + Sparsity.highsBytes(512, 6), raw.length);
        assertArrayEquals(indices, Sparsity.decodeEliasFano(raw, 0, 512, 6, "test"));
        assertEquals(1, Sparsity.kFor(5, 10_000));
        assertEquals(26, Sparsity.kFor(256, 100_000));
    }

    @Test
    public void randkIsSortedUniqueAndDeterministic() {
        int[] picked = Sparsity.randk(1000, 100, 7);
        assertArrayEquals(picked, Sparsity.randk(1000, 100, 7));
        for (int j = 1; j < picked.length; j++) {
            assertTrue(picked[j - 1] < picked[j]);
        }
    }

    @Test
    public void uniformQuantisationIsWithinOneStep() {
        float[] v = new float[2000];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.cos(i * 1.3) * (i % 7);
        }
        for (int bits : new int[] {1, 2, 4, 8}) {
            Quantizer.Quantized q = Quantizer.uniformEncode(v, bits, 512, 99);
            double[] back = Quantizer.uniformDecode(q, bits, 512);
            for (int i = 0; i < v.length; i++) {
                double step = 2.0 * q.scales()[i / 512] / ((1 << bits) - 1);
                assertTrue(Math.abs(back[i] - v[i]) <= step + 1e-6);
            }
        }
    }

    @Test
    public void edenIsUnbiasedAlongEachChunk() {
        float[] v = new float[4096];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(i * 0.7 + 0.1);
        }
        for (int bits : new int[] {1, 2, 4}) {
            double[] back = Quantizer.edenDecode(Quantizer.edenEncode(v, bits, 4096), bits, 4096);
            double dot = 0;
            double norm = 0;
            for (int i = 0; i < v.length; i++) {
                dot += back[i] * v[i];
                norm += (double) v[i] * v[i];
            }
            assertEquals(norm, dot, norm * 1e-5);
        }
    }
}
