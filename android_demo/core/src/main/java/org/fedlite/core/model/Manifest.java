package org.fedlite.core.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.json.JsonReader;

/**
 * The part of a trainable model's manifest (docs/model-contract.md) that a device needs: the
 * tensors of the train/evaluate signatures and the named weights of get_weights/set_weights.
 */
public record Manifest(String modelId, int batchSize, String task, TensorSpec input, TensorSpec label,
                       List<TensorSpec> weights) {
    /** The metadata name the converter stores the manifest under. */
    public static final String METADATA_NAME = "fedlite_manifest";
    /** The manifest format this reader understands. */
    public static final long FORMAT_VERSION = 1;
    /**
     * The one input (float32 [1], value ignored) of the signatures that take no data: get_weights,
     * get_optimizer_state, reset_optimizer. LiteRT's {@code Interpreter.runSignature} refuses an
     * empty input map.
     */
    public static final String PLACEHOLDER_INPUT = "unused";

    public Manifest {
        weights = Collections.unmodifiableList(new ArrayList<>(weights));
    }

    /**
     * Extracts and parses the manifest embedded in a converted .tflite file, and checks that LiteRT's
     * Java API can call every signature of the model.
     */
    public static Manifest fromModel(byte[] model) {
        byte[] json = TfliteMetadata.read(model).get(METADATA_NAME);
        if (json == null) {
            throw new DecodeException("the model has no '" + METADATA_NAME + "' metadata: it was not converted by fedlite convert");
        }
        Manifest manifest = parse(json);
        requireInputs(TfliteMetadata.signatureInputs(model));
        return manifest;
    }

    /** Refuses a model with a signature that takes no input ({@code runSignature} cannot call it). */
    static void requireInputs(Map<String, List<String>> signatureInputs) {
        for (Map.Entry<String, List<String>> signature : signatureInputs.entrySet()) {
            if (signature.getValue().isEmpty()) {
                throw new DecodeException("the model's signature '" + signature.getKey() + "' takes no input, which LiteRT's "
                        + "Java API cannot call: convert the model again (such signatures take '" + PLACEHOLDER_INPUT + "')");
            }
        }
    }

    /** Parses manifest JSON. */
    public static Manifest parse(byte[] json) {
        JsonObject manifest = JsonObject.of("manifest", JsonReader.parse(json));
        long version = manifest.integer("format_version");
        if (version != FORMAT_VERSION) {
            throw new DecodeException("manifest: format_version " + version + " is not supported (this reader knows "
                    + FORMAT_VERSION + ")");
        }
        List<TensorSpec> weights = new ArrayList<>();
        for (Object item : manifest.list("weights")) {
            weights.add(TensorSpec.fromJson(JsonObject.of("manifest.weights", item)));
        }
        return new Manifest(manifest.string("model_id"), (int) manifest.integer("batch_size"), manifest.string("task"),
                TensorSpec.fromJson(manifest.object("input")), TensorSpec.fromJson(manifest.object("label")), weights);
    }

    /** The weights the train signature updates, in manifest order. */
    public List<TensorSpec> trainableWeights() {
        List<TensorSpec> out = new ArrayList<>();
        for (TensorSpec spec : weights) {
            if (spec.trainable()) {
                out.add(spec);
            }
        }
        return out;
    }
}
