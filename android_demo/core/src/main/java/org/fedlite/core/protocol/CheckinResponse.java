package org.fedlite.core.protocol;

import java.util.List;
import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;

/** The answer to a check-in: a {@link Train} task, or {@link Wait} and come back later. */
public sealed interface CheckinResponse permits CheckinResponse.Train, CheckinResponse.Wait {
    /** The reasons a server may give for {@link Wait}. */
    List<String> WAIT_REASONS = List.of(
            "already_participated", "no_round", "not_eligible", "round_full", "training_complete");

    /** The device was selected for a round. */
    record Train(Task task) implements CheckinResponse {
    }

    /** Not now: check in again after a delay drawn uniformly from [min, max] seconds. */
    record Wait(long retryAfterMin, long retryAfterMax, String reason) implements CheckinResponse {
        public Wait {
            if (retryAfterMin < 0 || retryAfterMin > retryAfterMax) {
                throw new DecodeException("check-in response: need 0 <= retry_after_min <= retry_after_max");
            }
            if (!WAIT_REASONS.contains(reason)) {
                throw new DecodeException("check-in response: unknown wait reason \"" + reason + "\"");
            }
        }
    }

    /** Parses the response body strictly. */
    static CheckinResponse parse(byte[] body) {
        JsonObject json = JsonObject.parse("check-in response", body);
        String action = json.string("action");
        if (action.equals("train")) {
            json.allowOnly("action", "task");
            return new Train(Task.fromJson(json.object("task")));
        }
        if (action.equals("wait")) {
            json.allowOnly("action", "retry_after_min", "retry_after_max", "reason");
            return new Wait(json.integer("retry_after_min"), json.integer("retry_after_max"), json.string("reason"));
        }
        throw new DecodeException("check-in response: field \"action\" must be train or wait, got \"" + action + "\"");
    }
}
