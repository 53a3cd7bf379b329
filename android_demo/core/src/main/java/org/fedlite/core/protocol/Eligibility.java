package org.fedlite.core.protocol;

import java.util.LinkedHashMap;
import java.util.Map;

/** What the device reports at check-in: whether it is charging, on an unmetered network, idle. */
public record Eligibility(boolean charging, boolean unmetered, boolean idle) {
    /** The JSON object of this message. */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("charging", charging);
        json.put("unmetered", unmetered);
        json.put("idle", idle);
        return json;
    }
}
