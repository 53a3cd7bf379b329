package org.fedlite.core.protocol;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.fedlite.core.DecodeException;
import org.fedlite.core.Hashes;
import org.fedlite.core.json.JsonWriter;
import org.fedlite.core.transport.HttpRequest;
import org.fedlite.core.transport.HttpResponse;
import org.fedlite.core.transport.Transport;
import org.fedlite.core.transport.TransportException;

/**
 * The device side of protocol v1 (docs/protocol.md): enrol, check in, download, upload.
 *
 * <p>Every request after enrolment is signed afresh (new nonce, current time corrected by the
 * server's clock after a {@code stale_timestamp}). Error statuses raise {@link ServerRejection};
 * an unreachable server raises {@link TransportException}; a malformed answer raises
 * {@link DecodeException}; a download whose hash does not match raises {@link IntegrityException}.
 */
public final class FedLiteClient {
    private static final String JSON = "application/json";
    private static final String BINARY = "application/octet-stream";
    private static final String HEADER_SERVER_TIME = "X-FedLite-Server-Time";
    private static final String HEADER_SHA256 = "X-FedLite-Sha256";
    private static final String HEADER_DELTA_FROM = "X-FedLite-Delta-From";

    private final Transport transport;
    private final RequestSigner signer;
    private final DeviceInfo info;
    private final LongSupplier clockSeconds;
    private final SecureRandom random = new SecureRandom();
    private String deviceId;
    private long clockOffset;

    /** Who the device is, as enrolment and check-in report it (1–100 printable characters each). */
    public record DeviceInfo(String platform, String sdkVersion, String runtime) {
    }

    /** A downloaded weights bundle; {@code deltaFrom} is the cached version it is a delta from, or null. */
    public record WeightsDownload(byte[] bundle, Long deltaFrom) {
    }

    /**
     * @param deviceId the id of an earlier enrolment, or null before {@link #enroll}
     * @param clockSeconds the current unix time in seconds
     */
    public FedLiteClient(Transport transport, RequestSigner signer, DeviceInfo info, String deviceId,
                         LongSupplier clockSeconds) {
        this.transport = transport;
        this.signer = signer;
        this.info = info;
        this.deviceId = deviceId;
        this.clockSeconds = clockSeconds;
    }

    /** A client on the system clock. */
    public FedLiteClient(Transport transport, RequestSigner signer, DeviceInfo info, String deviceId) {
        this(transport, signer, info, deviceId, () -> System.currentTimeMillis() / 1000);
    }

    /** The enrolled device id, or null. */
    public synchronized String deviceId() {
        return deviceId;
    }

    /** Trades an enrolment token for a device id (idempotent per key) and keeps the id. */
    public EnrollResponse enroll(String token) throws TransportException, ServerRejection {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("token", token);
        body.put("public_key", Base64.getEncoder().encodeToString(signer.publicKey()));
        body.put("platform", info.platform());
        body.put("sdk_version", info.sdkVersion());
        body.put("runtime", info.runtime());
        HttpResponse response = exchange("POST", "/v1/enroll", JsonWriter.writeBytes(body), JSON, false);
        EnrollResponse enrolled = EnrollResponse.parse(response.body());
        synchronized (this) {
            deviceId = enrolled.deviceId();
        }
        return enrolled;
    }

    /** Asks for work, reporting eligibility and what the device has cached (nulls for nothing). */
    public CheckinResponse checkin(Eligibility eligibility, String modelSha256, Long weightsVersion)
            throws TransportException, ServerRejection {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("eligibility", eligibility.toJson());
        body.put("model_sha256", modelSha256);
        body.put("weights_version", weightsVersion);
        body.put("sdk_version", info.sdkVersion());
        body.put("runtime", info.runtime());
        return CheckinResponse.parse(exchange("POST", "/v1/checkin", JsonWriter.writeBytes(body), JSON, true).body());
    }

    /** Downloads the model graph and checks its size and sha256. */
    public byte[] downloadModel(Task.ModelRef model) throws TransportException, ServerRejection {
        byte[] bytes = exchange("GET", model.url(), new byte[0], null, true).body();
        IntegrityException.check("model " + model.url(), bytes, model.sha256(), model.size());
        return bytes;
    }

    /**
     * Downloads the task's weights; with {@code since} (a cached version) the server may send a
     * delta from it instead. The body is checked against {@code X-FedLite-Sha256}, and a full
     * bundle against the task's sha256 and size too.
     */
    public WeightsDownload downloadWeights(Task.WeightsRef weights, Long since)
            throws TransportException, ServerRejection {
        String target = since == null ? weights.url() : weights.url() + (weights.url().contains("?") ? "&" : "?") + "since=" + since;
        HttpResponse response = exchange("GET", target, new byte[0], null, true);
        String declared = response.header(HEADER_SHA256);
        if (declared == null) {
            throw new DecodeException("weights response lacks the " + HEADER_SHA256 + " header");
        }
        IntegrityException.check("weights " + target, response.body(), declared, -1);
        Long deltaFrom = parseDeltaFrom(response.header(HEADER_DELTA_FROM));
        if (deltaFrom == null) {
            IntegrityException.check("weights " + target, response.body(), weights.sha256(), weights.size());
        }
        return new WeightsDownload(response.body(), deltaFrom);
    }

    /**
     * PUTs an encoded update bundle to the task's upload URL. A network error or {@code 429} is
     * retried with the same bytes, re-signed, up to {@code attempts} times in all.
     */
    public UploadAck upload(Task task, byte[] bundle, int attempts, Sleeper sleeper)
            throws TransportException, ServerRejection, InterruptedException {
        if (bundle.length > task.upload().maxBytes()) {
            throw new IllegalArgumentException("update of " + bundle.length + " bytes exceeds the task's limit of "
                    + task.upload().maxBytes());
        }
        for (int attempt = 1; ; attempt++) {
            try {
                return UploadAck.parse(exchange("PUT", task.upload().url(), bundle, BINARY, true).body());
            } catch (TransportException e) {
                if (attempt >= attempts) {
                    throw e;
                }
                sleeper.sleepSeconds(attempt);
            } catch (ServerRejection e) {
                if (e.status() != 429 || attempt >= attempts) {
                    throw e;
                }
                sleeper.sleepSeconds(e.retryAfterSeconds() == null ? attempt : e.retryAfterSeconds());
            }
        }
    }

    /** How the client waits between upload attempts (tests pass one that does not sleep). */
    public interface Sleeper {
        void sleepSeconds(long seconds) throws InterruptedException;

        Sleeper SYSTEM = seconds -> Thread.sleep(seconds * 1000);
    }

    private HttpResponse exchange(String method, String target, byte[] body, String contentType, boolean signed)
            throws TransportException, ServerRejection {
        HttpResponse response = transport.send(request(method, target, body, contentType, signed));
        if (response.status() == 401 && adjustClock(response)) {
            response = transport.send(request(method, target, body, contentType, signed));
        }
        if (response.status() >= 300) {
            throw ServerRejection.of(response);
        }
        return response;
    }

    private HttpRequest request(String method, String target, byte[] body, String contentType, boolean signed) {
        String id;
        synchronized (this) {
            id = deviceId;
            if (signed && id == null) {
                throw new IllegalStateException("the device is not enrolled: call enroll(token) first");
            }
        }
        Map<String, String> headers = new LinkedHashMap<>(RequestSigning.headers(
                signer, method, target, signed ? id : null, now(), newNonce(), body));
        if (contentType != null) {
            headers.put("Content-Type", contentType);
        }
        return new HttpRequest(method, target, headers, body);
    }

    /** After a {@code stale_timestamp}, aligns the clock with the server's; true if worth a retry. */
    private synchronized boolean adjustClock(HttpResponse response) throws ServerRejection {
        String serverTime = response.header(HEADER_SERVER_TIME);
        if (!ServerRejection.of(response).code().equals("stale_timestamp") || serverTime == null
                || !serverTime.matches("[0-9]{1,15}")) {
            return false;
        }
        clockOffset = Long.parseLong(serverTime) - clockSeconds.getAsLong();
        return true;
    }

    private synchronized long now() {
        return clockSeconds.getAsLong() + clockOffset;
    }

    private String newNonce() {
        byte[] bytes = new byte[16];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static Long parseDeltaFrom(String value) {
        if (value == null) {
            return null;
        }
        if (!value.matches("[0-9]{1,15}")) {
            throw new DecodeException("weights response: malformed " + HEADER_DELTA_FROM + " header: " + value);
        }
        return Long.parseLong(value);
    }

    /** The sha256 of {@code bytes} in hex, as the protocol names cached models. */
    public static String sha256(byte[] bytes) {
        return Hashes.sha256Hex(bytes);
    }
}
