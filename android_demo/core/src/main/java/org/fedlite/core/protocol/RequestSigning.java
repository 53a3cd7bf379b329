package org.fedlite.core.protocol;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.fedlite.core.Hashes;

/** The FEDLITE-SIG-V1 request signature of docs/protocol.md §3. */
public final class RequestSigning {
    public static final String SCHEME = "FEDLITE-SIG-V1";
    public static final String HEADER_DEVICE = "X-FedLite-Device";
    public static final String HEADER_TIMESTAMP = "X-FedLite-Timestamp";
    public static final String HEADER_NONCE = "X-FedLite-Nonce";
    public static final String HEADER_SIGNATURE = "X-FedLite-Signature";

    private RequestSigning() {
    }

    /** The bytes a device signs; {@code deviceId} is "" for enrolment. */
    public static byte[] canonicalRequest(String method, String target, String deviceId,
                                          String timestamp, String nonce, byte[] body) {
        String text = String.join("\n", SCHEME, method.toUpperCase(Locale.ROOT), target, deviceId,
                timestamp, nonce, Hashes.sha256Hex(body));
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** The signing headers for one request; {@code deviceId == null} signs an enrolment. */
    public static Map<String, String> headers(RequestSigner signer, String method, String target,
                                              String deviceId, long timestamp, String nonce, byte[] body) {
        String time = Long.toString(timestamp);
        byte[] message = canonicalRequest(method, target, deviceId == null ? "" : deviceId, time, nonce, body);
        Map<String, String> headers = new LinkedHashMap<>();
        if (deviceId != null) {
            headers.put(HEADER_DEVICE, deviceId);
        }
        headers.put(HEADER_TIMESTAMP, time);
        headers.put(HEADER_NONCE, nonce);
        headers.put(HEADER_SIGNATURE, Base64.getEncoder().encodeToString(signer.sign(message)));
        return headers;
    }
}
