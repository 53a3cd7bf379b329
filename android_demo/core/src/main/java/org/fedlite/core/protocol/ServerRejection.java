package org.fedlite.core.protocol;

import org.fedlite.core.DecodeException;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.transport.HttpResponse;

/**
 * The server answered with an error status; {@link #code()} is the stable code of
 * docs/protocol.md §2 ("device_revoked", "round_closed", ...).
 */
public final class ServerRejection extends Exception {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;
    private final Long retryAfterSeconds;

    public ServerRejection(int status, String code, String message, Long retryAfterSeconds) {
        super("server refused (" + status + " " + code + "): " + message);
        this.status = status;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** The rejection an error response describes; a body that is not the error shape is named as such. */
    public static ServerRejection of(HttpResponse response) {
        Long retryAfter = parseRetryAfter(response.header("Retry-After"));
        try {
            JsonObject error = JsonObject.parse("error response", response.body()).object("error");
            return new ServerRejection(response.status(), error.string("code"), error.string("message"), retryAfter);
        } catch (DecodeException e) {
            return new ServerRejection(response.status(), "unexpected_response",
                    "HTTP " + response.status() + " without a FedLite error body", retryAfter);
        }
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    /** Seconds to wait before retrying, from {@code Retry-After}; null when absent. */
    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The enrolment is no longer valid (revoked or forgotten): the device must enrol again. */
    public boolean enrolmentLost() {
        return code.equals("device_revoked") || code.equals("unknown_device") || code.equals("key_in_use");
    }

    /** The server will not take this update any more (round closed, base too old, other body kept). */
    public boolean updateRefused() {
        return status == 409;
    }

    private static Long parseRetryAfter(String value) {
        if (value == null || !value.matches("[0-9]{1,9}")) {
            return null;
        }
        return Long.parseLong(value);
    }
}
