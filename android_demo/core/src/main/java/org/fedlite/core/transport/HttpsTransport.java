package org.fedlite.core.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.MalformedURLException;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLSocketFactory;

/**
 * {@link Transport} over {@link HttpsURLConnection}, which both the JDK and Android provide.
 *
 * <p>Bodies are streamed with a fixed length (so the connection never silently re-sends a POST),
 * and a response larger than {@code maxResponseBytes} is refused while it is read.
 */
public final class HttpsTransport implements Transport {
    private final String origin;
    private final SSLSocketFactory socketFactory;
    private final int connectTimeoutMs;
    private final int readTimeoutMs;
    private final long maxResponseBytes;

    /**
     * @param origin "https://host:port" of the server, without a path
     * @param socketFactory TLS settings (e.g. from {@link TrustedCertificates}); null for the
     *     platform's default trust store
     */
    public HttpsTransport(String origin, SSLSocketFactory socketFactory, int connectTimeoutMs,
                          int readTimeoutMs, long maxResponseBytes) {
        if (!origin.startsWith("https://")) {
            throw new IllegalArgumentException("the server URL must start with https://, got " + origin);
        }
        this.origin = origin.endsWith("/") ? origin.substring(0, origin.length() - 1) : origin;
        this.socketFactory = socketFactory;
        this.connectTimeoutMs = connectTimeoutMs;
        this.readTimeoutMs = readTimeoutMs;
        this.maxResponseBytes = maxResponseBytes;
    }

    /** A transport with 10 s connect and 60 s read timeouts and a 256 MiB response limit. */
    public HttpsTransport(String origin, SSLSocketFactory socketFactory) {
        this(origin, socketFactory, 10_000, 60_000, 256L << 20);
    }

    @Override
    public HttpResponse send(HttpRequest request) throws TransportException {
        HttpsURLConnection connection = open(request.target());
        try {
            configure(connection, request);
            writeBody(connection, request.body());
            int status = connection.getResponseCode();
            byte[] body = readBody(connection, status);
            return new HttpResponse(status, headersOf(connection), body);
        } catch (IOException e) {
            throw new TransportException(describe(request, e), e);
        } finally {
            connection.disconnect();
        }
    }

    private HttpsURLConnection open(String target) throws TransportException {
        try {
            HttpsURLConnection connection = (HttpsURLConnection) new URL(origin + target).openConnection();
            if (socketFactory != null) {
                connection.setSSLSocketFactory(socketFactory);
            }
            return connection;
        } catch (MalformedURLException e) {
            throw new TransportException("invalid URL " + origin + target, e);
        } catch (IOException e) {
            throw new TransportException("cannot open a connection to " + origin + ": " + e.getMessage(), e);
        }
    }

    private void configure(HttpURLConnection connection, HttpRequest request) throws IOException {
        connection.setRequestMethod(request.method());
        connection.setConnectTimeout(connectTimeoutMs);
        connection.setReadTimeout(readTimeoutMs);
        connection.setInstanceFollowRedirects(false);
        connection.setUseCaches(false);
        connection.setRequestProperty("Accept-Encoding", "identity");
        request.headers().forEach(connection::setRequestProperty);
        if (!request.method().equals("GET")) {
            connection.setDoOutput(true);
            connection.setFixedLengthStreamingMode(request.body().length);
        }
    }

    private static void writeBody(HttpURLConnection connection, byte[] body) throws IOException {
        if (!connection.getDoOutput()) {
            return;
        }
        try (OutputStream out = connection.getOutputStream()) {
            out.write(body);
        }
    }

    private byte[] readBody(HttpURLConnection connection, int status) throws IOException {
        long declared = connection.getContentLengthLong();
        if (declared > maxResponseBytes) {
            throw new IOException("response of " + declared + " bytes exceeds the limit of " + maxResponseBytes);
        }
        InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
        if (in == null) {
            return new byte[0];
        }
        try (InputStream stream = in) {
            return readLimited(stream);
        }
    }

    private byte[] readLimited(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[64 * 1024];
        long total = 0;
        for (int n = in.read(chunk); n >= 0; n = in.read(chunk)) {
            total += n;
            if (total > maxResponseBytes) {
                throw new IOException("response exceeds the limit of " + maxResponseBytes + " bytes");
            }
            out.write(chunk, 0, n);
        }
        return out.toByteArray();
    }

    private static Map<String, String> headersOf(HttpURLConnection connection) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> entry : connection.getHeaderFields().entrySet()) {
            if (entry.getKey() != null && !entry.getValue().isEmpty()) {
                headers.put(entry.getKey(), entry.getValue().get(0));
            }
        }
        return headers;
    }

    private String describe(HttpRequest request, IOException e) {
        return request.method() + " " + origin + request.target() + " failed: "
                + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
