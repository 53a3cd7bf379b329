package org.fedlite.core.protocol;

import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;

/** A round's work for one device (docs/protocol.md §4.2). */
public record Task(String taskId, long round, long baseVersion, ModelRef model, WeightsRef weights,
                   CodecRef codec, TrainParams train, long deadline, UploadRef upload) {

    /** Where the model graph is and what its bytes hash to. */
    public record ModelRef(String sha256, long size, String url) {
    }

    /** Where the base weights bundle is and what it hashes to. */
    public record WeightsRef(long version, String sha256, long size, String url, String encoding) {
    }

    /**
     * The codec preset and seeds the update must be encoded with: {@code seed} is this task's
     * (stochastic rounding, random-k), {@code rotationSeed} the round's (shared by its tasks).
     */
    public record CodecRef(String preset, long seed, long rotationSeed) {
    }

    /** Local training settings; {@code learningRate} is null for the model's own. */
    public record TrainParams(long epochs, long batchSize, Double learningRate) {
    }

    /** Where to PUT the update and its size limit. */
    public record UploadRef(String url, long maxBytes) {
    }

    /** Builds a task from its JSON object, rejecting unknown and missing fields. */
    public static Task fromJson(JsonObject json) {
        json.allowOnly("task_id", "round", "base_version", "model", "weights", "codec", "train", "deadline", "upload");
        return new Task(json.string("task_id"), json.integer("round"), json.integer("base_version"),
                model(json.object("model")), weights(json.object("weights")), codec(json.object("codec")),
                train(json.object("train")), json.integer("deadline"), upload(json.object("upload")));
    }

    private static ModelRef model(JsonObject json) {
        json.allowOnly("sha256", "size", "url");
        return new ModelRef(sha256(json), json.integer("size"), url(json));
    }

    private static WeightsRef weights(JsonObject json) {
        json.allowOnly("version", "sha256", "size", "url", "encoding");
        return new WeightsRef(json.integer("version"), sha256(json), json.integer("size"), url(json),
                json.string("encoding"));
    }

    private static CodecRef codec(JsonObject json) {
        json.allowOnly("preset", "seed", "rotation_seed");
        return new CodecRef(json.string("preset"), seed32(json, "seed"), seed32(json, "rotation_seed"));
    }

    private static long seed32(JsonObject json, String key) {
        long seed = json.integer(key);
        if (seed < 0 || seed > 0xffffffffL) {
            throw new DecodeException("task.codec: field \"" + key + "\" must be in [0, 2^32)");
        }
        return seed;
    }

    private static TrainParams train(JsonObject json) {
        json.allowOnly("epochs", "batch_size", "learning_rate");
        Double rate = json.has("learning_rate") ? json.number("learning_rate") : null;
        return new TrainParams(json.integer("epochs"), json.integer("batch_size"), rate);
    }

    private static UploadRef upload(JsonObject json) {
        json.allowOnly("url", "max_bytes");
        return new UploadRef(url(json), json.integer("max_bytes"));
    }

    private static String sha256(JsonObject json) {
        String value = json.string("sha256");
        if (!value.matches("[0-9a-f]{64}")) {
            throw new DecodeException("task: field \"sha256\" must be 64 lower-case hex digits");
        }
        return value;
    }

    private static String url(JsonObject json) {
        String value = json.string("url");
        if (!value.startsWith("/v1/")) {
            throw new DecodeException("task: field \"url\" must be an absolute /v1/ path, got " + value);
        }
        return value;
    }
}
