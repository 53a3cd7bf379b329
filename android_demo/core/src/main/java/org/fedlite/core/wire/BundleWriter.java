package org.fedlite.core.wire;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.fedlite.core.json.JsonWriter;

/** Writes weights and update bundles (docs/wire-format.md §1–4), byte-identical to the Python writer. */
public final class BundleWriter {
    static final byte[] MAGIC = {'F', 'L', 'W', 'B'};
    static final int VERSION = 1;
    static final int MAX_META_BYTES = 65536;
    static final int MAX_TENSORS = 65536;
    /** zlib level 6, as the Python writer uses (compressed bytes are not part of byte identity). */
    static final int DEFLATE_LEVEL = 6;

    private BundleWriter() {
    }

    /** Meta JSON as FedLite writers serialise it: compact, keys sorted, UTF-8. */
    public static byte[] meta(Map<String, ?> meta) {
        return JsonWriter.writeSorted(meta).getBytes(StandardCharsets.UTF_8);
    }

    /** A weights bundle: every tensor as f32 (or f16), optionally zlib-compressed where that is smaller. */
    public static byte[] weights(byte[] meta, List<Tensor> tensors, boolean float16, boolean zlib) {
        ByteArrayOutputStream out = header(Bundle.KIND_WEIGHTS, meta, tensors);
        for (Tensor tensor : tensors) {
            RecordLayout layout = new RecordLayout(tensor.name(), tensor.shape(), RecordLayout.TRANSFORM_NONE, 0, 0,
                    RecordLayout.SPARSITY_DENSE, 0, 0, float16 ? RecordLayout.VALUES_F16 : RecordLayout.VALUES_F32, 0, 0);
            writeRecord(out, layout, RecordCodec.encode(layout, tensor.values(), 0), zlib);
        }
        return finish(out);
    }

    /**
     * An update bundle of {@code deltas} under {@code codec}. With {@code residuals} (error feedback,
     * §4; a map the device keeps between rounds, updated in place) each tensor sends
     * {@code delta + residual} and keeps what the codec lost as its next residual.
     */
    public static byte[] update(byte[] meta, List<Tensor> deltas, Codec codec, long seed, long rotationSeed,
                                Map<String, float[]> residuals) {
        ByteArrayOutputStream out = header(Bundle.KIND_UPDATE, meta, deltas);
        for (int i = 0; i < deltas.size(); i++) {
            Tensor delta = deltas.get(i);
            RecordLayout layout = codec.layout(delta.name(), delta.shape(), i, seed, rotationSeed);
            float[] x = withResidual(delta, residuals);
            byte[] raw = RecordCodec.encode(layout, x, SplitMix64.sub(seed, 1, i));
            if (residuals != null) {
                residuals.put(delta.name(), lost(x, RecordCodec.reconstruct(layout, raw)));
            }
            writeRecord(out, layout, raw, codec.policy(x.length).deflate());
        }
        return finish(out);
    }

    private static float[] withResidual(Tensor delta, Map<String, float[]> residuals) {
        float[] x = delta.values().clone();
        float[] residual = residuals == null ? null : residuals.get(delta.name());
        if (residual != null && residual.length == x.length) {
            for (int e = 0; e < x.length; e++) {
                x[e] += residual[e];
            }
        }
        return x;
    }

    private static float[] lost(float[] sent, float[] received) {
        float[] residual = new float[sent.length];
        for (int e = 0; e < sent.length; e++) {
            residual[e] = sent[e] - received[e];
        }
        return residual;
    }

    private static ByteArrayOutputStream header(int kind, byte[] meta, List<Tensor> tensors) {
        if (meta.length > MAX_META_BYTES) {
            throw new IllegalArgumentException("meta is " + meta.length + " bytes, more than " + MAX_META_BYTES);
        }
        if (tensors.size() > MAX_TENSORS) {
            throw new IllegalArgumentException("a bundle holds at most " + MAX_TENSORS + " tensors");
        }
        Set<String> names = new HashSet<>();
        for (Tensor tensor : tensors) {
            if (!names.add(tensor.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + tensor.name() + "'");
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(MAGIC, 0, 4);
        out.write(VERSION);
        out.write(kind);
        LittleEndian.u16(out, 0);
        LittleEndian.u32(out, meta.length);
        LittleEndian.u32(out, tensors.size());
        out.write(meta, 0, meta.length);
        return out;
    }

    private static void writeRecord(ByteArrayOutputStream out, RecordLayout layout, byte[] raw, boolean zlib) {
        byte[] compressed = zlib ? deflate(raw) : null;
        boolean useZlib = compressed != null && compressed.length < raw.length;
        byte[] payload = useZlib ? compressed : raw;
        layout.writeHeader(out, useZlib ? RecordLayout.ENTROPY_ZLIB : RecordLayout.ENTROPY_NONE);
        LittleEndian.u32(out, payload.length);
        out.write(payload, 0, payload.length);
    }

    private static byte[] deflate(byte[] raw) {
        Deflater deflater = new Deflater(DEFLATE_LEVEL);
        try {
            deflater.setInput(raw);
            deflater.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length / 2 + 64);
            byte[] buffer = new byte[64 * 1024];
            while (!deflater.finished()) {
                int n = deflater.deflate(buffer);
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }

    private static byte[] finish(ByteArrayOutputStream out) {
        CRC32 crc = new CRC32();
        byte[] body = out.toByteArray();
        crc.update(body, 0, body.length);
        LittleEndian.u32(out, crc.getValue());
        return out.toByteArray();
    }
}
