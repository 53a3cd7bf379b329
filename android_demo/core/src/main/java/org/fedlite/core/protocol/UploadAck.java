package org.fedlite.core.protocol;

import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;

/** A 202 answer to an upload: {@code status} is "accepted", or "duplicate" for a retried body. */
public record UploadAck(String status, String taskId, long round) {
    /** Parses the response body strictly. */
    public static UploadAck parse(byte[] body) {
        JsonObject json = JsonObject.parse("upload response", body).allowOnly("status", "task_id", "round");
        String status = json.string("status");
        if (!status.equals("accepted") && !status.equals("duplicate")) {
            throw new DecodeException("upload response: field \"status\" must be accepted or duplicate");
        }
        return new UploadAck(status, json.string("task_id"), json.integer("round"));
    }
}
