package org.fedlite.core.wire;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Every preset encodes and decodes back within its error bound; seeds make bytes reproducible. */
public class BundleRoundTripTest {
    static List<Tensor> sampleDeltas() {
        float[] kernel = new float[64 * 40];
        for (int i = 0; i < kernel.length; i++) {
            kernel[i] = (float) (Math.sin(i * 0.913) * 0.01 + (i % 13 == 0 ? 0.05 : 0));
        }
        float[] bias = new float[40];
        for (int i = 0; i < bias.length; i++) {
            bias[i] = i * 1e-3f - 0.02f;
        }
        return List.of(new Tensor("dense_kernel", new int[] {64, 40}, kernel), new Tensor("dense_bias", new int[] {40}, bias));
    }

    static byte[] meta() {
        Map<String, Object> meta = new HashMap<>();
        meta.put("task_id", "tsk_1");
        meta.put("round", 3L);
        return BundleWriter.meta(meta);
    }

    @Test
    public void everyPresetRoundTripsWithinItsErrorBound() {
        for (String name : Codec.presetNames()) {
            List<Tensor> deltas = sampleDeltas();
            byte[] bytes = BundleWriter.update(meta(), deltas, Codec.preset(name), 5, 6, null);
            Bundle bundle = BundleReader.read(bytes);
            assertEquals(Bundle.KIND_UPDATE, bundle.kind());
            assertArrayEquals(meta(), bundle.meta());
            assertEquals(deltas.get(1), bundle.tensor("dense_bias")); // small tensors travel as f32
            float[] sent = deltas.get(0).values();
            float[] got = bundle.tensor("dense_kernel").values();
            double error = 0;
            double norm = 0;
            for (int i = 0; i < sent.length; i++) {
                error += (got[i] - sent[i]) * (double) (got[i] - sent[i]);
                norm += (double) sent[i] * sent[i];
            }
            double bound = name.equals("fp32") ? 0 : name.startsWith("topk-1pct") ? 1.0 : name.contains("1bit") ? 0.7
                    : name.startsWith("topk") || name.startsWith("randk") || name.contains("int2") || name.contains("2bit") ? 0.95 : 0.3;
            assertTrue(name + ": relative error " + error / norm, error / norm <= bound);
        }
    }

    @Test
    public void sameSeedsGiveSameBytesAndOtherSeedsDiffer() {
        for (String name : List.of("int8", "int4", "rot-1bit", "randk-10pct-int8")) {
            byte[] a = BundleWriter.update(meta(), sampleDeltas(), Codec.preset(name), 11, 12, null);
            byte[] b = BundleWriter.update(meta(), sampleDeltas(), Codec.preset(name), 11, 12, null);
            byte[] c = BundleWriter.update(meta(), sampleDeltas(), Codec.preset(name), 13, 14, null);
            assertArrayEquals(name, a, b);
            assertFalse(name, Arrays.equals(a, c));
        }
    }

    @Test
    public void weightsBundlesHoldFloat32OrFloat16Exactly() {
        List<Tensor> weights = sampleDeltas();
        byte[] meta = BundleWriter.meta(Map.of("version", 4L));
        Bundle full = BundleReader.read(BundleWriter.weights(meta, weights, false, true));
        assertEquals(weights, full.tensors());
        assertEquals(4L, full.metaJson().integer("version"));
        Bundle half = BundleReader.read(BundleWriter.weights(meta, weights, true, false));
        float[] original = weights.get(0).values();
        float[] rounded = half.tensor("dense_kernel").values();
        for (int i = 0; i < original.length; i++) {
            assertEquals(Half.toFloat(Half.fromFloat(original[i])), rounded[i], 0f);
        }
    }

    @Test
    public void errorFeedbackCarriesWhatTheCodecLost() {
        Map<String, float[]> residuals = new HashMap<>();
        List<Tensor> deltas = sampleDeltas();
        Bundle first = BundleReader.read(BundleWriter.update(meta(), deltas, Codec.preset("topk-10pct-int8"), 1, 1, residuals));
        float[] sent = deltas.get(0).values();
        float[] got = first.tensor("dense_kernel").values();
        float[] residual = residuals.get("dense_kernel");
        for (int i = 0; i < sent.length; i++) {
            assertEquals(sent[i] - got[i], residual[i], 0f);
        }
        assertTrue(Arrays.equals(new float[40], residuals.get("dense_bias")));
    }
}
