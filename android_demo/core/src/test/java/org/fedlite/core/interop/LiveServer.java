package org.fedlite.core.interop;

import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.protocol.Ed25519Signer;
import org.fedlite.core.protocol.FedLiteClient;
import org.fedlite.core.transport.HttpRequest;
import org.fedlite.core.transport.HttpResponse;
import org.fedlite.core.transport.HttpsTransport;
import org.fedlite.core.transport.TrustedCertificates;

/** The live server started by tools/live_server.py, as the system properties describe it. */
final class LiveServer {
    static final FedLiteClient.DeviceInfo DEVICE = new FedLiteClient.DeviceInfo("jvm-test", "0.1.0", "none (JVM test)");

    final String url;
    final HttpsTransport transport;
    final String token;
    final Path dataDir;
    final List<String> adminCommand;

    private LiveServer() throws IOException {
        url = property("url");
        byte[] ca = Files.readAllBytes(Paths.get(property("ca")));
        transport = new HttpsTransport(url, TrustedCertificates.socketFactory(ca));
        token = property("token");
        dataDir = Paths.get(property("data"));
        adminCommand = Arrays.asList(property("admin").split("\\|"));
    }

    static LiveServer fromProperties() throws IOException {
        return new LiveServer();
    }

    private static String property(String name) {
        String value = System.getProperty("fedlite.server." + name);
        if (value == null) {
            fail("fedlite.server." + name + " is not set: run these tests with `make test` (tools/live_server.py)");
        }
        return value;
    }

    /** A newly generated device key and a client for it (not yet enrolled). */
    FedLiteClient newDevice() {
        return new FedLiteClient(transport, Ed25519Signer.generate(), DEVICE, null);
    }

    /** The unsigned operator status: {"status", "round", "version"}. */
    JsonObject health() throws IOException {
        HttpResponse response = transport.send(new HttpRequest("GET", "/healthz", Map.of(), null));
        return JsonObject.parse("healthz", response.body());
    }

    /** Polls /healthz until the published version reaches {@code version}; returns it. */
    long awaitVersion(long version) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        long current = health().integer("version");
        while (current < version && System.nanoTime() < deadline) {
            Thread.sleep(100);
            current = health().integer("version");
        }
        return current;
    }

    /** Runs `fedlite admin ARGS...` against the server's data directory; fails the test on error. */
    void admin(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(adminCommand);
        command.addAll(Arrays.asList(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            fail("fedlite admin " + String.join(" ", args) + " failed:\n" + output);
        }
    }
}
