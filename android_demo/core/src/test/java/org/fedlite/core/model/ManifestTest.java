package org.fedlite.core.model;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;
import org.junit.Test;

/** The manifest read from a real converted model (-Dfedlite.model) equals the converter's side-car JSON. */
public class ManifestTest {
    private static Path modelPath() {
        String path = System.getProperty("fedlite.model");
        if (path == null) {
            fail("fedlite.model is not set: run these tests with `make test` (tools/live_server.py)");
        }
        return Paths.get(path);
    }

    @Test
    public void embeddedManifestMatchesTheSideCar() throws Exception {
        Path model = modelPath();
        Manifest manifest = Manifest.fromModel(Files.readAllBytes(model));
        String sideCarName = model.getFileName().toString().replace(".tflite", ".manifest.json");
        JsonObject sideCar = JsonObject.parse("side-car", Files.readAllBytes(model.resolveSibling(sideCarName)));
        assertEquals(sideCar.string("model_id"), manifest.modelId());
        assertEquals(sideCar.integer("batch_size"), manifest.batchSize());
        List<Object> weights = sideCar.list("weights");
        assertEquals(weights.size(), manifest.weights().size());
        for (int i = 0; i < weights.size(); i++) {
            JsonObject expected = JsonObject.of("weight", weights.get(i));
            TensorSpec actual = manifest.weights().get(i);
            assertEquals(expected.string("name"), actual.name());
            assertEquals(expected.bool("trainable"), actual.trainable());
            assertArrayEquals(expected.list("shape").stream().mapToInt(d -> (int) (long) (Long) d).toArray(), actual.shape());
        }
        assertEquals(manifest.batchSize(), manifest.input().shape()[0]);
    }

    @Test
    public void everySignatureTakesAnInputTheDataFreeOnesThePlaceholder() throws Exception {
        Map<String, List<String>> inputs = TfliteMetadata.signatureInputs(Files.readAllBytes(modelPath()));
        assertEquals(List.of("mask", "x", "y"), inputs.get("train"));
        for (String name : List.of("get_weights", "get_optimizer_state", "reset_optimizer")) {
            assertEquals(name, List.of(Manifest.PLACEHOLDER_INPUT), inputs.get(name));
        }
        for (Map.Entry<String, List<String>> signature : inputs.entrySet()) {
            assertFalse(signature.getKey(), signature.getValue().isEmpty());
        }
    }

    @Test
    public void aSignatureWithoutInputsIsRefused() {
        Manifest.requireInputs(Map.of("train", List.of("mask", "x", "y"), "get_weights", List.of("unused")));
        DecodeException refused = assertThrows(DecodeException.class,
                () -> Manifest.requireInputs(Map.of("train", List.of("x"), "get_weights", List.of())));
        assertTrue(refused.getMessage(), refused.getMessage().contains("'get_weights' takes no input"));
    }

    @Test
    public void damagedModelsRaiseDecodeException() throws Exception {
        byte[] model = Files.readAllBytes(modelPath());
        assertThrows(DecodeException.class, () -> Manifest.fromModel(Arrays.copyOf(model, 7)));
        byte[] renamed = model.clone();
        renamed[4] = 'X';
        assertTrue(assertThrows(DecodeException.class, () -> Manifest.fromModel(renamed)).getMessage().contains("TFL3"));
        Random random = new Random(3);
        for (int trial = 0; trial < 300; trial++) {
            byte[] damaged = trial % 2 == 0 ? Arrays.copyOf(model, 8 + random.nextInt(model.length - 8)) : model.clone();
            if (trial % 2 == 1) {
                for (int f = 0; f < 4; f++) {
                    damaged[8 + random.nextInt(64)] = (byte) random.nextInt(256); // the root table and vtables
                }
            }
            try {
                Manifest.fromModel(damaged);
            } catch (DecodeException expected) {
                assertTrue(expected.getMessage(), !expected.getMessage().isEmpty());
            } catch (RuntimeException e) {
                fail("trial " + trial + ": " + e);
            }
        }
    }
}
