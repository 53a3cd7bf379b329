package org.fedlite.core.transport;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One HTTP request: {@code target} is the path with its query ("/v1/weights/3?encoding=fp32"),
 * resolved by the transport against the server's origin.
 */
public final class HttpRequest {
    private final String method;
    private final String target;
    private final Map<String, String> headers;
    private final byte[] body;

    public HttpRequest(String method, String target, Map<String, String> headers, byte[] body) {
        if (!target.startsWith("/")) {
            throw new IllegalArgumentException("request target must be an absolute path: " + target);
        }
        this.method = method;
        this.target = target;
        this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        this.body = body == null ? new byte[0] : body;
    }

    public String method() {
        return method;
    }

    public String target() {
        return target;
    }

    public Map<String, String> headers() {
        return headers;
    }

    /** The body as sent (empty for GET); callers must not modify it. */
    public byte[] body() {
        return body;
    }
}
