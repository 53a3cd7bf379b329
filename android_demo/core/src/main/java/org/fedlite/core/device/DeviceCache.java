package org.fedlite.core.device;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.fedlite.core.wire.Tensor;

/** What a device keeps between rounds: the model graph, the newest global weights, codec residuals. */
public interface DeviceCache {
    /** The sha256 of the cached model, or null. */
    String modelSha256() throws IOException;

    /** The cached model's bytes (its sha256 was checked when it was stored). */
    byte[] model() throws IOException;

    void putModel(String sha256, byte[] model) throws IOException;

    /** The version of the cached global weights, or null. */
    Long weightsVersion() throws IOException;

    /** The cached global weights. */
    List<Tensor> weights() throws IOException;

    void putWeights(long version, List<Tensor> weights) throws IOException;

    /** Error-feedback residuals by tensor name (empty when there are none). */
    Map<String, float[]> residuals() throws IOException;

    void putResiduals(Map<String, float[]> residuals) throws IOException;
}
