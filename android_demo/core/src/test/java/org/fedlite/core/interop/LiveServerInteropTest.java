package org.fedlite.core.interop;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fedlite.core.device.FileCache;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.device.RoundRunner;
import org.fedlite.core.model.Manifest;
import org.fedlite.core.model.TensorSpec;
import org.fedlite.core.protocol.CheckinResponse;
import org.fedlite.core.protocol.Ed25519Signer;
import org.fedlite.core.protocol.Eligibility;
import org.fedlite.core.protocol.FedLiteClient;
import org.fedlite.core.protocol.IntegrityException;
import org.fedlite.core.protocol.ServerRejection;
import org.fedlite.core.protocol.Task;
import org.fedlite.core.protocol.UpdateMeta;
import org.fedlite.core.protocol.UploadAck;
import org.fedlite.core.transport.HttpsTransport;
import org.fedlite.core.transport.TransportException;
import org.fedlite.core.wire.Bundle;
import org.fedlite.core.wire.BundleReader;
import org.fedlite.core.wire.BundleWriter;
import org.fedlite.core.wire.Codec;
import org.fedlite.core.wire.Tensor;
import org.junit.BeforeClass;
import org.junit.FixMethodOrder;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.runners.MethodSorters;

/**
 * The Java core against the real FedLite server (Python, uvicorn, TLS on loopback, SQLite),
 * started by tools/live_server.py: every update is encoded here and decoded there.
 */
@FixMethodOrder(MethodSorters.NAME_ASCENDING)
public class LiveServerInteropTest {
    private static final Eligibility ELIGIBLE = new Eligibility(true, true, true);
    private static LiveServer server;

    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    @BeforeClass
    public static void connect() throws Exception {
        server = LiveServer.fromProperties();
    }

    /** Stands in for LiteRT on the JVM: a deterministic small change to every trainable weight. */
    private static RoundRunner.LocalTrainer nudge(double size) {
        return (model, manifest, base, params) -> {
            List<Tensor> trained = new ArrayList<>();
            for (Tensor tensor : base) {
                float[] values = tensor.values().clone();
                for (int i = 0; i < values.length; i++) {
                    values[i] += (float) (size * Math.sin(0.37 * i + values.length));
                }
                trained.add(new Tensor(tensor.name(), tensor.shape(), values));
            }
            return new RoundRunner.Training(trained, 64, Map.of("loss", 0.5, "accuracy", 0.75));
        };
    }

    @Test
    public void a_lowLevelRoundEnrolsDownloadsVerifiesAndUploads() throws Exception {
        FedLiteClient device = server.newDevice();
        String id = device.enroll(server.token).deviceId();
        assertTrue(id, id.startsWith("dev_"));
        assertEquals(id, device.enroll(server.token).deviceId()); // idempotent per key
        long before = server.health().integer("version");

        Task task = awaitTask(device);
        assertEquals("rot-1bit", task.codec().preset());
        byte[] model = device.downloadModel(task.model());
        assertEquals(task.model().sha256(), FedLiteClient.sha256(model));
        Manifest manifest = Manifest.fromModel(model);
        FedLiteClient.WeightsDownload weights = device.downloadWeights(task.weights(), null);
        Bundle base = BundleReader.read(weights.bundle());
        assertEquals(task.weights().version(), base.metaJson().integer("version"));
        for (TensorSpec spec : manifest.weights()) {
            assertArrayEquals(spec.name(), spec.shape(), base.tensor(spec.name()).shape());
        }

        List<Tensor> deltas = new ArrayList<>();
        for (TensorSpec spec : manifest.trainableWeights()) {
            float[] delta = new float[spec.size()];
            for (int i = 0; i < delta.length; i++) {
                delta[i] = (float) (0.01 * Math.cos(i));
            }
            deltas.add(new Tensor(spec.name(), spec.shape(), delta));
        }
        byte[] meta = BundleWriter.meta(UpdateMeta.forTask(task, 100, Map.of("loss", 0.3), null).toJson());
        byte[] update = BundleWriter.update(meta, deltas, Codec.preset(task.codec().preset()), task.codec().seed(),
                task.codec().rotationSeed(), null);
        UploadAck ack = device.upload(task, update, 1, FedLiteClient.Sleeper.SYSTEM);
        assertEquals("accepted", ack.status());
        assertEquals(task.taskId(), ack.taskId());
        assertEquals(before + 1, server.awaitVersion(before + 1));
        assertEquals(1, lastPublishedRound().integer("accepted"));
    }

    @Test
    public void b_theRoundRunnerTakesPartTwiceUsingItsCache() throws Exception {
        FedLiteClient device = server.newDevice();
        device.enroll(server.token);
        File cacheDir = folder.newFolder("cache");
        FileCache cache = new FileCache(cacheDir);
        RoundRunner runner = new RoundRunner(device, cache, nudge(0.01), FedLiteClient.Sleeper.SYSTEM, new Random(1));
        for (int round = 0; round < 2; round++) {
            long before = server.health().integer("version");
            RoundRunner.Outcome outcome = runner.runOnce(ELIGIBLE);
            for (int wait = 0; wait < 50 && outcome instanceof RoundRunner.Waited; wait++) {
                Thread.sleep(200); // between rounds: the server says "wait" for up to a second
                outcome = runner.runOnce(ELIGIBLE);
            }
            assertTrue(outcome.toString(), outcome instanceof RoundRunner.Uploaded);
            RoundRunner.Uploaded uploaded = (RoundRunner.Uploaded) outcome;
            assertEquals("accepted", uploaded.ack().status());
            assertEquals("rot-1bit", uploaded.codec());
            assertEquals(before + 1, server.awaitVersion(before + 1));
            assertEquals(Long.valueOf(before), cache.weightsVersion()); // the base it trained from
            assertNotNull(cache.modelSha256());
        }
        assertTrue(new File(cacheDir, "residuals.bin").isFile()); // error feedback kept for the next round
    }

    @Test
    public void c_aTamperedDownloadIsCaught() throws Exception {
        FedLiteClient device = server.newDevice();
        device.enroll(server.token);
        Task task = awaitTask(device);
        Task.ModelRef wrong = new Task.ModelRef("0".repeat(64).replace("0", "a"), task.model().size(), task.model().url());
        IntegrityException e = assertThrows(IntegrityException.class, () -> device.downloadModel(wrong));
        assertTrue(e.getMessage(), e.getMessage().contains("sha256"));
    }

    @Test
    public void d_aRevokedDeviceIsToldSoClearly() throws Exception {
        FedLiteClient device = server.newDevice();
        String id = device.enroll(server.token).deviceId();
        server.admin("device", "revoke", id);
        ServerRejection rejection = awaitRejection(device);
        assertEquals(403, rejection.status());
        assertEquals("device_revoked", rejection.code());
        assertTrue(rejection.enrolmentLost());
        assertTrue(rejection.getMessage(), rejection.getMessage().contains("device_revoked"));
    }

    @Test
    public void e_anUnknownTokenIsRefused() throws Exception {
        ServerRejection rejection = assertThrows(ServerRejection.class, () -> server.newDevice().enroll("tok_not_issued"));
        assertEquals("invalid_token", rejection.code());
    }

    @Test
    public void f_aDeadServerIsATransportError() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        FedLiteClient device = new FedLiteClient(new HttpsTransport("https://127.0.0.1:" + port, null, 2000, 2000, 1 << 20),
                Ed25519Signer.generate(), LiveServer.DEVICE, "dev_x");
        TransportException e = assertThrows(TransportException.class, () -> device.checkin(ELIGIBLE, null, null));
        assertTrue(e.getMessage(), e.getMessage().contains("127.0.0.1:" + port));
    }

    private static ServerRejection awaitRejection(FedLiteClient device) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                device.checkin(ELIGIBLE, null, null);
            } catch (ServerRejection e) {
                return e;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the server still accepts the revoked device");
            }
            Thread.sleep(100);
        }
    }

    private static Task awaitTask(FedLiteClient device) throws Exception {
        for (int attempt = 0; attempt < 50; attempt++) {
            CheckinResponse answer = device.checkin(ELIGIBLE, null, null);
            if (answer instanceof CheckinResponse.Train train) {
                return train.task();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the server gave no task within 10 s");
    }

    /** The newest round record the server wrote to its history with outcome "published". */
    private static JsonObject lastPublishedRound() throws Exception {
        List<String> lines = Files.readAllLines(server.dataDir.resolve("history.jsonl"));
        for (int i = lines.size() - 1; i >= 0; i--) {
            JsonObject record = JsonObject.parse("history", lines.get(i).getBytes(StandardCharsets.UTF_8));
            if ("published".equals(record.optString("outcome", ""))) {
                return record;
            }
        }
        throw new AssertionError("the server's history has no published round");
    }
}
