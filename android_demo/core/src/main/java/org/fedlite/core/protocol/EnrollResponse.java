package org.fedlite.core.protocol;

import org.fedlite.core.json.JsonObject;

/** The server's answer to enrolment: the device id to sign with from now on. */
public record EnrollResponse(String deviceId, long serverTime) {
    /** Parses the response body strictly. */
    public static EnrollResponse parse(byte[] body) {
        JsonObject json = JsonObject.parse("enrol response", body).allowOnly("device_id", "server_time");
        return new EnrollResponse(json.string("device_id"), json.integer("server_time"));
    }
}
