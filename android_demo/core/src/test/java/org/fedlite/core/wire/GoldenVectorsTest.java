package org.fedlite.core.wire;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fedlite.core.Hashes;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.support.Vectors;
import org.junit.Test;

/**
 * Every codec vector of tests/vectors/codec (layout in tests/vectors/README.md): the Java reader
 * decodes the Python bundle to the expected records and values, and the Java writer re-encodes
 * the inputs to the same bytes and the same error-feedback residuals.
 */
public class GoldenVectorsTest {
    @Test
    public void everyVectorDecodesToItsRecordsAndValues() throws Exception {
        int checked = 0;
        for (JsonObject vector : vectors()) {
            String name = vector.string("name");
            byte[] bundle = Vectors.read("codec/" + vector.string("bundle"));
            assertEquals(name, vector.string("bundle_sha256"), Hashes.sha256Hex(bundle));
            BundleReader.Parsed parsed = BundleReader.parse(bundle, shapes(vector), BundleReader.DEFAULT_MAX_ELEMENTS);
            assertEquals(name, vector.string("kind").equals("update") ? Bundle.KIND_UPDATE : Bundle.KIND_WEIGHTS, parsed.kind());
            assertEquals(name, vector.string("meta_json"), new String(parsed.meta(), StandardCharsets.UTF_8));
            List<JsonObject> tensors = tensors(vector);
            assertEquals(name, tensors.size(), parsed.records().size());
            for (int i = 0; i < tensors.size(); i++) {
                JsonObject expected = tensors.get(i);
                BundleReader.DecodedRecord record = parsed.records().get(i);
                String what = name + "/" + expected.string("name");
                assertEquals(what, expected.string("name"), record.tensor().name());
                assertRecord(what, expected.object("record"), record.layout(), record.entropy());
                assertEquals(what, expected.string("raw_payload"), Hashes.hex(record.raw()));
                assertArrayEquals(what, bits(floats(expected.string("decoded_f32"))), bits(record.tensor().values()));
            }
            checked++;
        }
        assertTrue("expected the full set of codec vectors, found " + checked, checked >= 20);
    }

    @Test
    public void everyVectorReencodesToTheSameBytesAndResiduals() throws Exception {
        for (JsonObject vector : vectors()) {
            String name = vector.string("name");
            byte[] expected = Vectors.read("codec/" + vector.string("bundle"));
            byte[] meta = vector.string("meta_json").getBytes(StandardCharsets.UTF_8);
            List<Tensor> inputs = new ArrayList<>();
            Map<String, float[]> residuals = new HashMap<>();
            for (JsonObject tensor : tensors(vector)) {
                inputs.add(new Tensor(tensor.string("name"), shape(tensor), floats(tensor.string("input_f32"))));
                if (tensor.has("residual_f32")) {
                    residuals.put(tensor.string("name"), floats(tensor.string("residual_f32")));
                }
            }
            byte[] actual = vector.string("kind").equals("weights")
                    ? BundleWriter.weights(meta, inputs, vector.string("weights_dtype").equals("float16"), vector.bool("deflate"))
                    : BundleWriter.update(meta, inputs, codecOf(vector),
                            Long.parseUnsignedLong(vector.string("seed")),
                            Long.parseUnsignedLong(vector.string("rotation_seed")), residuals);
            if (vector.bool("uses_zlib")) {
                assertSameRecords(name, expected, actual);
            } else {
                assertArrayEquals(name, expected, actual);
            }
            if (vector.string("kind").equals("update")) {
                for (JsonObject tensor : tensors(vector)) {
                    assertArrayEquals(name + "/" + tensor.string("name") + " residual",
                            bits(floats(tensor.string("new_residual_f32"))), bits(residuals.get(tensor.string("name"))));
                }
            }
        }
    }

    /** With zlib, compressed bytes may differ between zlib builds: compare headers and inflated payloads. */
    private static void assertSameRecords(String name, byte[] expected, byte[] actual) {
        BundleReader.Parsed want = BundleReader.parse(expected, null, BundleReader.DEFAULT_MAX_ELEMENTS);
        BundleReader.Parsed got = BundleReader.parse(actual, null, BundleReader.DEFAULT_MAX_ELEMENTS);
        assertArrayEquals(name, want.meta(), got.meta());
        assertEquals(name, want.records().size(), got.records().size());
        for (int i = 0; i < want.records().size(); i++) {
            BundleReader.DecodedRecord a = want.records().get(i);
            BundleReader.DecodedRecord b = got.records().get(i);
            assertEquals(name, a.entropy(), b.entropy());
            assertArrayEquals(name, header(a.layout(), a.entropy()), header(b.layout(), b.entropy()));
            assertArrayEquals(name, a.raw(), b.raw());
        }
    }

    private static byte[] header(RecordLayout layout, int entropy) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        layout.writeHeader(out, entropy);
        return out.toByteArray();
    }

    private static void assertRecord(String what, JsonObject expected, RecordLayout layout, int entropy) {
        JsonObject transform = expected.optObject("transform");
        assertEquals(what, transform == null ? RecordLayout.TRANSFORM_NONE : RecordLayout.TRANSFORM_HADAMARD, layout.transform);
        if (transform != null) {
            assertEquals(what, transform.integer("log2_block"), layout.log2Block);
            assertEquals(what, Long.parseUnsignedLong(transform.string("seed")), layout.rotationSeed);
        }
        JsonObject sparsity = expected.optObject("sparsity");
        assertEquals(what, sparsity == null ? "dense" : sparsity.string("kind"), sparsityName(layout.sparsity));
        if (sparsity != null) {
            assertEquals(what, sparsity.integer("k"), layout.k);
            if (sparsity.has("seed")) {
                assertEquals(what, Long.parseUnsignedLong(sparsity.string("seed")), layout.selectionSeed);
            }
        }
        JsonObject values = expected.object("values");
        assertEquals(what, values.string("kind"), valuesName(layout.values));
        assertEquals(what, values.optInteger("bits", 0), layout.bits);
        assertEquals(what, values.optInteger("chunk", 0), layout.chunk);
        assertEquals(what, expected.string("entropy"), entropy == RecordLayout.ENTROPY_ZLIB ? "zlib" : "none");
    }

    /** A preset case uses the Java preset of that name (checking the preset table); others their codec. */
    private static Codec codecOf(JsonObject vector) {
        return vector.has("preset") ? Codec.preset(vector.string("preset")) : codec(vector.object("codec"));
    }

    /** The codec a vector describes: {"name", "small_below", "main", "small"}. */
    static Codec codec(JsonObject json) {
        return new Codec(json.string("name"), policy(json.object("main")), policy(json.object("small")),
                json.integer("small_below"));
    }

    private static Codec.Policy policy(JsonObject json) {
        JsonObject values = json.object("values");
        JsonObject rotation = json.optObject("rotation");
        JsonObject sparsity = json.optObject("sparsity");
        int sparsityKind = sparsity == null ? RecordLayout.SPARSITY_DENSE
                : sparsity.string("kind").equals("topk") ? RecordLayout.SPARSITY_TOPK : RecordLayout.SPARSITY_RANDK;
        return new Codec.Policy(rotation == null ? Codec.NO_ROTATION : (int) rotation.integer("max_log2_block"),
                sparsityKind, sparsity == null ? 0 : sparsity.integer("ppm"), valuesKind(values.string("kind")),
                (int) values.optInteger("bits", 0), (int) values.optInteger("chunk", 0), json.bool("deflate"));
    }

    private static int valuesKind(String name) {
        switch (name) {
            case "float32": return RecordLayout.VALUES_F32;
            case "float16": return RecordLayout.VALUES_F16;
            case "uniform": return RecordLayout.VALUES_UNIFORM;
            case "eden": return RecordLayout.VALUES_EDEN;
            default: throw new AssertionError("unknown value coding " + name);
        }
    }

    private static String valuesName(int kind) {
        return new String[] {"float32", "float16", "uniform", "eden"}[kind];
    }

    private static String sparsityName(int kind) {
        return new String[] {"dense", "topk", "randk"}[kind];
    }

    private static List<JsonObject> vectors() throws IOException {
        List<JsonObject> vectors = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(Vectors.dir().resolve("codec"), "*.json")) {
            for (Path file : files) {
                JsonObject vector = JsonObject.parse(file.getFileName().toString(), Files.readAllBytes(file));
                assertEquals("fedlite-codec-vector/1", vector.string("format"));
                vectors.add(vector);
            }
        }
        vectors.sort((a, b) -> a.string("name").compareTo(b.string("name")));
        return vectors;
    }

    private static List<JsonObject> tensors(JsonObject vector) {
        List<JsonObject> tensors = new ArrayList<>();
        for (Object item : vector.list("tensors")) {
            tensors.add(JsonObject.of("tensor", item));
        }
        return tensors;
    }

    private static Map<String, int[]> shapes(JsonObject vector) {
        Map<String, int[]> shapes = new HashMap<>();
        for (JsonObject tensor : tensors(vector)) {
            shapes.put(tensor.string("name"), shape(tensor));
        }
        return shapes;
    }

    private static int[] shape(JsonObject tensor) {
        return tensor.list("shape").stream().mapToInt(d -> (int) (long) (Long) d).toArray();
    }

    /** Bit patterns, so that -0.0 and +0.0 (and every NaN payload) count as different. */
    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    private static float[] floats(String hex) {
        ByteBuffer buffer = ByteBuffer.wrap(Hashes.unhex(hex)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[buffer.remaining() / 4];
        buffer.asFloatBuffer().get(out);
        return out;
    }
}
