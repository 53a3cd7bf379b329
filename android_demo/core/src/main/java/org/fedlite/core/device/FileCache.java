package org.fedlite.core.device;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fedlite.core.Hashes;
import org.fedlite.core.wire.Bundle;
import org.fedlite.core.wire.BundleReader;
import org.fedlite.core.wire.BundleWriter;
import org.fedlite.core.wire.Tensor;

/**
 * A {@link DeviceCache} in a private folder: {@code model.tflite}, {@code weights.bin} and
 * {@code residuals.bin} (the latter two as f32 weights bundles). Files are replaced atomically,
 * so a crash never leaves a half-written cache; a corrupt file reads as absent.
 */
public final class FileCache implements DeviceCache {
    private final File dir;

    public FileCache(File dir) throws IOException {
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create the cache folder " + dir);
        }
        this.dir = dir;
    }

    @Override
    public String modelSha256() throws IOException {
        File model = file("model.tflite");
        return model.exists() ? Hashes.sha256Hex(Files.readAllBytes(model.toPath())) : null;
    }

    @Override
    public byte[] model() throws IOException {
        return Files.readAllBytes(file("model.tflite").toPath());
    }

    @Override
    public void putModel(String sha256, byte[] model) throws IOException {
        if (!Hashes.sha256Hex(model).equals(sha256)) {
            throw new IllegalArgumentException("model bytes do not hash to " + sha256);
        }
        write("model.tflite", model);
        delete("residuals.bin"); // residuals belong to the previous model
    }

    @Override
    public Long weightsVersion() throws IOException {
        Bundle bundle = readBundle("weights.bin");
        return bundle == null ? null : bundle.metaJson().integer("version");
    }

    @Override
    public List<Tensor> weights() throws IOException {
        Bundle bundle = readBundle("weights.bin");
        return bundle == null ? new ArrayList<>() : bundle.tensors();
    }

    @Override
    public void putWeights(long version, List<Tensor> weights) throws IOException {
        write("weights.bin", BundleWriter.weights(BundleWriter.meta(Map.of("version", version)), weights, false, false));
    }

    @Override
    public Map<String, float[]> residuals() throws IOException {
        Bundle bundle = readBundle("residuals.bin");
        Map<String, float[]> residuals = new HashMap<>();
        if (bundle != null) {
            for (Tensor tensor : bundle.tensors()) {
                residuals.put(tensor.name(), tensor.values());
            }
        }
        return residuals;
    }

    @Override
    public void putResiduals(Map<String, float[]> residuals) throws IOException {
        List<Tensor> tensors = new ArrayList<>();
        residuals.forEach((name, values) -> tensors.add(new Tensor(name, new int[] {values.length}, values)));
        write("residuals.bin", BundleWriter.weights(BundleWriter.meta(Map.of()), tensors, false, false));
    }

    private Bundle readBundle(String name) throws IOException {
        File file = file(name);
        if (!file.exists()) {
            return null;
        }
        try {
            return BundleReader.read(Files.readAllBytes(file.toPath()), null, Long.MAX_VALUE);
        } catch (IllegalArgumentException corrupt) {
            delete(name);
            return null;
        }
    }

    private void write(String name, byte[] data) throws IOException {
        File temp = file(name + ".tmp");
        try (FileOutputStream out = new FileOutputStream(temp)) {
            out.write(data);
            out.getFD().sync();
        }
        Files.move(temp.toPath(), file(name).toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private void delete(String name) throws IOException {
        Files.deleteIfExists(file(name).toPath());
    }

    private File file(String name) {
        return new File(dir, name);
    }
}
