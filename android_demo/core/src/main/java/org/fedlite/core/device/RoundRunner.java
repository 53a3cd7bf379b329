package org.fedlite.core.device;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fedlite.core.model.Manifest;
import org.fedlite.core.model.TensorSpec;
import org.fedlite.core.protocol.CheckinResponse;
import org.fedlite.core.protocol.Eligibility;
import org.fedlite.core.protocol.FedLiteClient;
import org.fedlite.core.protocol.ServerRejection;
import org.fedlite.core.protocol.Task;
import org.fedlite.core.protocol.UpdateMeta;
import org.fedlite.core.protocol.UploadAck;
import org.fedlite.core.wire.BundleReader;
import org.fedlite.core.wire.BundleWriter;
import org.fedlite.core.wire.Codec;
import org.fedlite.core.wire.Tensor;

/**
 * One participation of a device (docs/protocol.md §5): check in; if selected, fetch the model
 * and base weights (verified, cached), train locally, and upload the encoded delta.
 */
public final class RoundRunner {
    private static final int UPLOAD_ATTEMPTS = 3;

    private final FedLiteClient client;
    private final DeviceCache cache;
    private final LocalTrainer trainer;
    private final FedLiteClient.Sleeper sleeper;
    private final Random random;

    /** Trains a model locally: the seam between the protocol core and a TFLite runtime. */
    public interface LocalTrainer {
        /** Trains from {@code base} with the task's settings and returns the resulting weights. */
        Training train(byte[] model, Manifest manifest, List<Tensor> base, Task.TrainParams params) throws Exception;
    }

    /** The outcome of local training: every weight by name, examples used, metrics such as accuracy. */
    public record Training(List<Tensor> weights, long numExamples, Map<String, Double> metrics) {
    }

    /** What one participation came to. */
    public sealed interface Outcome permits Waited, Uploaded, Dropped {
    }

    /** Not selected: check in again after {@code delaySeconds}. */
    public record Waited(long delaySeconds, String reason) implements Outcome {
    }

    /** The update was accepted (or was already, for a retry). */
    public record Uploaded(UploadAck ack, int bytes, String codec, Map<String, Double> metrics) implements Outcome {
    }

    /** The server refused the update as too late or conflicting (409): it is dropped. */
    public record Dropped(ServerRejection reason) implements Outcome {
    }

    public RoundRunner(FedLiteClient client, DeviceCache cache, LocalTrainer trainer, FedLiteClient.Sleeper sleeper,
                       Random random) {
        this.client = client;
        this.cache = cache;
        this.trainer = trainer;
        this.sleeper = sleeper;
        this.random = random;
    }

    /**
     * Checks in once and, when given a task, carries it out. Network failures, rejections other
     * than 409 (e.g. a revoked device) and malformed answers propagate to the caller.
     */
    public Outcome runOnce(Eligibility eligibility) throws Exception {
        CheckinResponse answer = client.checkin(eligibility, cache.modelSha256(), cache.weightsVersion());
        if (answer instanceof CheckinResponse.Wait wait) {
            long spread = wait.retryAfterMax() - wait.retryAfterMin();
            long delay = wait.retryAfterMin() + (spread == 0 ? 0 : Math.floorMod(random.nextLong(), spread + 1));
            return new Waited(delay, wait.reason());
        }
        return carryOut(((CheckinResponse.Train) answer).task());
    }

    private Outcome carryOut(Task task) throws Exception {
        byte[] model = model(task.model());
        Manifest manifest = Manifest.fromModel(model);
        List<Tensor> base = baseWeights(task, manifest);
        Training training = trainer.train(model, manifest, base, task.train());
        List<Tensor> deltas = deltas(manifest, base, training.weights());
        Map<String, float[]> residuals = cache.residuals();
        byte[] meta = BundleWriter.meta(UpdateMeta.forTask(task, training.numExamples(), training.metrics(),
                manifest.modelId()).toJson());
        byte[] bundle = BundleWriter.update(meta, deltas, Codec.preset(task.codec().preset()), task.codec().seed(),
                task.codec().rotationSeed(), residuals);
        try {
            UploadAck ack = client.upload(task, bundle, UPLOAD_ATTEMPTS, sleeper);
            cache.putResiduals(residuals);
            return new Uploaded(ack, bundle.length, task.codec().preset(), training.metrics());
        } catch (ServerRejection e) {
            if (e.updateRefused()) {
                return new Dropped(e);
            }
            throw e;
        }
    }

    private byte[] model(Task.ModelRef ref) throws IOException, ServerRejection {
        if (ref.sha256().equals(cache.modelSha256())) {
            return cache.model();
        }
        byte[] model = client.downloadModel(ref);
        cache.putModel(ref.sha256(), model);
        return model;
    }

    /** The task's base weights: cached, or downloaded (as a delta from the cached version when offered). */
    private List<Tensor> baseWeights(Task task, Manifest manifest) throws IOException, ServerRejection {
        Long cached = cache.weightsVersion();
        if (cached != null && cached == task.baseVersion()) {
            return cache.weights();
        }
        FedLiteClient.WeightsDownload download = client.downloadWeights(task.weights(), cached);
        List<Tensor> received = BundleReader.read(download.bundle(), shapes(manifest.weights()),
                BundleReader.DEFAULT_MAX_ELEMENTS).tensors();
        List<Tensor> weights = download.deltaFrom() == null ? received : add(cache.weights(), received);
        cache.putWeights(task.baseVersion(), weights);
        return weights;
    }

    private static List<Tensor> add(List<Tensor> cached, List<Tensor> delta) {
        Map<String, Tensor> byName = byName(delta);
        List<Tensor> sum = new ArrayList<>();
        for (Tensor tensor : cached) {
            Tensor change = byName.get(tensor.name());
            float[] values = tensor.values().clone();
            if (change == null || change.values().length != values.length) {
                throw new IllegalStateException("the weights delta does not match the cached weights at " + tensor.name());
            }
            for (int i = 0; i < values.length; i++) {
                values[i] += change.values()[i];
            }
            sum.add(new Tensor(tensor.name(), tensor.shape(), values));
        }
        return sum;
    }

    /** {@code local - base} for every trainable weight, in manifest order, matched by name. */
    static List<Tensor> deltas(Manifest manifest, List<Tensor> base, List<Tensor> local) {
        Map<String, Tensor> baseByName = byName(base);
        Map<String, Tensor> localByName = byName(local);
        List<Tensor> deltas = new ArrayList<>();
        for (TensorSpec spec : manifest.trainableWeights()) {
            Tensor before = baseByName.get(spec.name());
            Tensor after = localByName.get(spec.name());
            if (before == null || after == null || before.values().length != after.values().length) {
                throw new IllegalStateException("weight '" + spec.name() + "' is missing or reshaped after training");
            }
            float[] delta = new float[before.values().length];
            for (int i = 0; i < delta.length; i++) {
                delta[i] = after.values()[i] - before.values()[i];
            }
            deltas.add(new Tensor(spec.name(), spec.shape(), delta));
        }
        return deltas;
    }

    private static Map<String, Tensor> byName(List<Tensor> tensors) {
        Map<String, Tensor> map = new HashMap<>();
        for (Tensor tensor : tensors) {
            map.put(tensor.name(), tensor);
        }
        return map;
    }

    private static Map<String, int[]> shapes(List<TensorSpec> specs) {
        Map<String, int[]> shapes = new HashMap<>();
        for (TensorSpec spec : specs) {
            shapes.put(spec.name(), spec.shape());
        }
        return shapes;
    }
}
