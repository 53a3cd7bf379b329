package org.fedlite.core.wire;

import static org.fedlite.core.wire.RecordLayout.SPARSITY_DENSE;
import static org.fedlite.core.wire.RecordLayout.SPARSITY_TOPK;
import static org.fedlite.core.wire.RecordLayout.TRANSFORM_HADAMARD;
import static org.fedlite.core.wire.RecordLayout.VALUES_EDEN;
import static org.fedlite.core.wire.RecordLayout.VALUES_F16;
import static org.fedlite.core.wire.RecordLayout.VALUES_F32;
import static org.fedlite.core.wire.RecordLayout.VALUES_UNIFORM;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.fedlite.core.DecodeException;

/** Encodes one tensor through its record's stages and decodes a raw payload back (docs/wire-format.md §2–3). */
final class RecordCodec {
    private RecordCodec() {
    }

    /** The raw payload of {@code tensor} under {@code layout}; {@code roundingSeed} drives uniform rounding. */
    static byte[] encode(RecordLayout layout, float[] tensor, long roundingSeed) {
        float[] x = codedDomain(layout, tensor);
        int[] indices = null;
        float[] selected = x;
        if (layout.sparsity != SPARSITY_DENSE) {
            indices = layout.sparsity == SPARSITY_TOPK ? Sparsity.topk(x, layout.k)
                    : Sparsity.randk(x.length, layout.k, layout.selectionSeed);
            selected = new float[indices.length];
            for (int j = 0; j < indices.length; j++) {
                selected[j] = x[indices[j]];
            }
        }
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        if (layout.sparsity == SPARSITY_TOPK && layout.k > 0) {
            byte[][] sections = Sparsity.eliasFano(indices, x.length);
            raw.write(sections[0], 0, sections[0].length);
            raw.write(sections[1], 0, sections[1].length);
        }
        writeValues(raw, layout, selected, roundingSeed);
        return raw.toByteArray();
    }

    /** The tensor padded to the coded domain and rotated when the layout says so. */
    private static float[] codedDomain(RecordLayout layout, float[] tensor) {
        for (float value : tensor) {
            if (!Float.isFinite(value)) {
                throw new IllegalArgumentException("tensor '" + layout.name + "' has a non-finite value");
            }
        }
        float[] x = java.util.Arrays.copyOf(tensor, (int) layout.m());
        if (layout.transform == TRANSFORM_HADAMARD) {
            Hadamard.forward(x, layout.log2Block, layout.rotationSeed);
            for (float value : x) {
                if (!Float.isFinite(value)) {
                    throw new IllegalArgumentException("tensor '" + layout.name + "' overflows float after rotation");
                }
            }
        }
        return x;
    }

    private static void writeValues(ByteArrayOutputStream raw, RecordLayout layout, float[] values, long roundingSeed) {
        ByteBuffer buffer;
        switch (layout.values) {
            case VALUES_F32:
                buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float value : values) {
                    buffer.putFloat(value);
                }
                raw.write(buffer.array(), 0, buffer.capacity());
                return;
            case VALUES_F16:
                buffer = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float value : values) {
                    buffer.putShort(Half.fromFloat(value));
                }
                raw.write(buffer.array(), 0, buffer.capacity());
                return;
            default:
                Quantizer.Quantized q = layout.values == VALUES_UNIFORM
                        ? Quantizer.uniformEncode(values, layout.bits, layout.chunk, roundingSeed)
                        : Quantizer.edenEncode(values, layout.bits, layout.chunk);
                buffer = ByteBuffer.allocate(4 * q.scales().length).order(ByteOrder.LITTLE_ENDIAN);
                for (float scale : q.scales()) {
                    buffer.putFloat(scale);
                }
                raw.write(buffer.array(), 0, buffer.capacity());
                byte[] codes = BitStream.pack(q.codes(), layout.bits);
                raw.write(codes, 0, codes.length);
        }
    }

    /** Decodes a raw payload of exactly {@code layout.rawSize()} bytes into the tensor's n floats (§2.1). */
    static float[] decode(RecordLayout layout, byte[] raw, String what) {
        double[] z = scatter(readValues(layout, raw, indexBytes(layout), what), indices(layout, raw, what), layout.m());
        if (layout.transform == TRANSFORM_HADAMARD) {
            Hadamard.inverse(z, layout.log2Block, layout.rotationSeed);
        }
        float[] out = new float[(int) layout.n()];
        for (int e = 0; e < out.length; e++) {
            out[e] = (float) z[e];
            if (!Float.isFinite(out[e])) {
                throw new DecodeException(what + ": decoded value " + e + " is not finite");
            }
        }
        return out;
    }

    /**
     * What the writer takes the receiver to see, for error feedback: like {@link #decode} but with
     * the coded values rounded to float before the (float) inverse rotation, as the Python writer
     * (and the golden vectors) compute it. Equal to {@code decode} without rotation.
     */
    static float[] reconstruct(RecordLayout layout, byte[] raw) {
        double[] z = scatter(readValues(layout, raw, indexBytes(layout), layout.name), indices(layout, raw, layout.name),
                layout.m());
        float[] x = new float[z.length];
        for (int e = 0; e < x.length; e++) {
            x[e] = (float) z[e];
        }
        if (layout.transform == TRANSFORM_HADAMARD) {
            Hadamard.inverseInFloat(x, layout.log2Block, layout.rotationSeed);
        }
        return java.util.Arrays.copyOf(x, (int) layout.n());
    }

    private static int indexBytes(RecordLayout layout) {
        return layout.sparsity == SPARSITY_TOPK ? layout.indexBytes() : 0;
    }

    /** Positions of the coded values in the coded domain, or null when dense. */
    private static int[] indices(RecordLayout layout, byte[] raw, String what) {
        if (layout.sparsity == SPARSITY_DENSE || layout.k == 0) {
            return layout.sparsity == SPARSITY_DENSE ? null : new int[0];
        }
        return layout.sparsity == SPARSITY_TOPK ? Sparsity.decodeEliasFano(raw, 0, layout.m(), layout.k, what)
                : Sparsity.randk(layout.m(), layout.k, layout.selectionSeed);
    }

    private static double[] readValues(RecordLayout layout, byte[] raw, int offset, String what) {
        int count = layout.count();
        ByteBuffer buffer = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        double[] values = new double[count];
        if (layout.values == VALUES_F32 || layout.values == VALUES_F16) {
            for (int e = 0; e < count; e++) {
                float value = layout.values == VALUES_F32 ? buffer.getFloat(offset + 4 * e)
                        : Half.toFloat(buffer.getShort(offset + 2 * e));
                if (!Float.isFinite(value)) {
                    throw new DecodeException(what + ": value " + e + " is not finite");
                }
                values[e] = value;
            }
            return values;
        }
        float[] scales = new float[layout.chunks()];
        for (int c = 0; c < scales.length; c++) {
            scales[c] = buffer.getFloat(offset + 4 * c);
        }
        Quantizer.checkScales(scales, what);
        int[] codes = BitStream.unpack(raw, offset + 4 * scales.length, count, layout.bits, what + " codes");
        Quantizer.Quantized q = new Quantizer.Quantized(scales, codes);
        return layout.values == VALUES_EDEN ? Quantizer.edenDecode(q, layout.bits, layout.chunk)
                : Quantizer.uniformDecode(q, layout.bits, layout.chunk);
    }

    private static double[] scatter(double[] values, int[] indices, long m) {
        if (indices == null) {
            return values;
        }
        double[] z = new double[(int) m];
        for (int j = 0; j < indices.length; j++) {
            z[indices[j]] = values[j];
        }
        return z;
    }
}
