package org.fedlite.core.protocol;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** The meta object an update bundle carries (docs/protocol.md §4.5); {@code modelId} may be null. */
public record UpdateMeta(String taskId, long round, long baseVersion, long numExamples, Map<String, Double> metrics,
                         String modelId) {
    public UpdateMeta {
        if (numExamples < 1 || numExamples > 1_000_000_000L) {
            throw new IllegalArgumentException("num_examples must be in [1, 10^9], got " + numExamples);
        }
        if (metrics.size() > 32) {
            throw new IllegalArgumentException("at most 32 metrics, got " + metrics.size());
        }
        for (Map.Entry<String, Double> metric : metrics.entrySet()) {
            if (!Double.isFinite(metric.getValue())) {
                throw new IllegalArgumentException("metric " + metric.getKey() + " must be finite");
            }
        }
        metrics = Collections.unmodifiableMap(new TreeMap<>(metrics));
    }

    /** The meta of an update for {@code task} of the model {@code modelId} (null to leave it out). */
    public static UpdateMeta forTask(Task task, long numExamples, Map<String, Double> metrics, String modelId) {
        return new UpdateMeta(task.taskId(), task.round(), task.baseVersion(), numExamples, metrics, modelId);
    }

    /** The JSON object, fields in protocol order, metrics sorted by name. */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("task_id", taskId);
        json.put("round", round);
        json.put("base_version", baseVersion);
        json.put("num_examples", numExamples);
        json.put("metrics", metrics);
        if (modelId != null) {
            json.put("model_id", modelId);
        }
        return json;
    }
}
