package org.fedlite.core.device;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fedlite.core.Hashes;
import org.fedlite.core.wire.Tensor;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class FileCacheTest {
    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    @Test
    public void storesAndReloadsModelWeightsAndResiduals() throws Exception {
        File dir = folder.newFolder("cache");
        FileCache cache = new FileCache(dir);
        assertNull(cache.modelSha256());
        assertNull(cache.weightsVersion());
        byte[] model = "TFL3-model".getBytes(StandardCharsets.UTF_8);
        cache.putModel(Hashes.sha256Hex(model), model);
        List<Tensor> weights = List.of(new Tensor("w", new int[] {2, 2}, new float[] {1, -2, 3.5f, -0f}));
        cache.putWeights(7, weights);
        Map<String, float[]> residuals = new HashMap<>();
        residuals.put("w", new float[] {0.25f, 0, 0, -1});
        cache.putResiduals(residuals);

        FileCache again = new FileCache(dir);
        assertEquals(Hashes.sha256Hex(model), again.modelSha256());
        assertArrayEquals(model, again.model());
        assertEquals(Long.valueOf(7), again.weightsVersion());
        assertEquals(weights, again.weights());
        assertArrayEquals(residuals.get("w"), again.residuals().get("w"), 0f);
        assertTrue(new File(dir, "weights.bin").isFile() && !new File(dir, "weights.bin.tmp").exists());
    }

    @Test
    public void aCorruptFileReadsAsAbsentAndAWrongHashIsRefused() throws Exception {
        File dir = folder.newFolder("cache");
        FileCache cache = new FileCache(dir);
        cache.putWeights(3, List.of(new Tensor("b", new int[] {1}, new float[] {1})));
        Files.write(new File(dir, "weights.bin").toPath(), new byte[] {1, 2, 3});
        assertNull(cache.weightsVersion());
        assertThrows(IllegalArgumentException.class, () -> cache.putModel("0".repeat(64), new byte[] {1}));
        assertNull(cache.modelSha256());
    }
}
