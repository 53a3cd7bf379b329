package org.fedlite.core.transport;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** One HTTP response; header names are matched case-insensitively. */
public final class HttpResponse {
    private final int status;
    private final Map<String, String> headers;
    private final byte[] body;

    public HttpResponse(int status, Map<String, String> headers, byte[] body) {
        this.status = status;
        Map<String, String> lower = new TreeMap<>();
        headers.forEach((name, value) -> lower.put(name.toLowerCase(Locale.ROOT), value));
        this.headers = Collections.unmodifiableMap(lower);
        this.body = body;
    }

    public int status() {
        return status;
    }

    /** The header's value, or {@code null} when absent. */
    public String header(String name) {
        return headers.get(name.toLowerCase(Locale.ROOT));
    }

    /** The body; callers must not modify it. */
    public byte[] body() {
        return body;
    }
}
