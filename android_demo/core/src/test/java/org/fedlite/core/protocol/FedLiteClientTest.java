package org.fedlite.core.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.fedlite.core.DecodeException;
import org.fedlite.core.Hashes;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.support.Vectors;
import org.fedlite.core.transport.HttpRequest;
import org.fedlite.core.transport.TransportException;
import org.junit.Test;

/** The client's requests and its handling of answers, through the transport seam. */
public class FedLiteClientTest {
    private static final FedLiteClient.DeviceInfo INFO =
            new FedLiteClient.DeviceInfo("linux-x86_64", "0.1.0", "ai-edge-litert 2.3.0");
    private static final String TASK = "{\"action\":\"train\",\"task\":{\"task_id\":\"tsk_1\",\"round\":7,\"base_version\":6,"
            + "\"model\":{\"sha256\":\"" + Hashes.sha256Hex("model".getBytes(StandardCharsets.UTF_8))
            + "\",\"size\":5,\"url\":\"/v1/models/abc\"},"
            + "\"weights\":{\"version\":6,\"sha256\":\"" + "0".repeat(64) + "\",\"size\":1,\"url\":\"/v1/weights/6?encoding=fp32\","
            + "\"encoding\":\"fp32\"},\"codec\":{\"preset\":\"int8\",\"seed\":2718281828,\"rotation_seed\":1618033988},"
            + "\"train\":{\"epochs\":1,\"batch_size\":32,\"learning_rate\":null},\"deadline\":1760000600,"
            + "\"upload\":{\"url\":\"/v1/tasks/tsk_1/update\",\"max_bytes\":27000}}}";

    private static Ed25519Signer vectorKey() throws Exception {
        return Ed25519Signer.fromSeed(Hashes.unhex(Vectors.json("protocol_signing.json").string("private_seed_hex")));
    }

    private static List<JsonObject> vectorCases() throws Exception {
        List<JsonObject> cases = new ArrayList<>();
        for (Object item : Vectors.json("protocol_signing.json").list("cases")) {
            cases.add(JsonObject.of("case", item));
        }
        return cases;
    }

    @Test
    public void enrolAndCheckinBodiesAreByteIdenticalToPythons() throws Exception {
        ScriptedTransport transport = new ScriptedTransport()
                .answer(201, "{\"device_id\":\"dev_0123456789abcdef\",\"server_time\":1760000000}", Map.of())
                .answer(200, "{\"action\":\"wait\",\"retry_after_min\":30,\"retry_after_max\":90,\"reason\":\"round_full\"}", Map.of());
        FedLiteClient client = new FedLiteClient(transport, vectorKey(), INFO, null, () -> 1760000000L);
        client.enroll("tok_example");
        CheckinResponse answer = client.checkin(new Eligibility(true, true, true), null, null);
        assertEquals(new CheckinResponse.Wait(30, 90, "round_full"), answer);
        List<JsonObject> cases = vectorCases();
        for (int i = 0; i < 2; i++) {
            HttpRequest request = transport.sent.get(i);
            assertEquals(cases.get(i).string("target"), request.target());
            assertEquals(cases.get(i).string("body_hex"), Hashes.hex(request.body()));
        }
        assertNull(transport.sent.get(0).headers().get(RequestSigning.HEADER_DEVICE));
        assertEquals("dev_0123456789abcdef", transport.sent.get(1).headers().get(RequestSigning.HEADER_DEVICE));
        assertNotEquals(transport.sent.get(0).headers().get(RequestSigning.HEADER_NONCE),
                transport.sent.get(1).headers().get(RequestSigning.HEADER_NONCE));
    }

    @Test
    public void aTrainAnswerParsesStrictly() throws Exception {
        FedLiteClient client = new FedLiteClient(new ScriptedTransport().answer(200, TASK, Map.of()), vectorKey(), INFO, "dev_1");
        Task task = ((CheckinResponse.Train) client.checkin(new Eligibility(true, false, true), null, 3L)).task();
        assertEquals(new Task.CodecRef("int8", 2718281828L, 1618033988L), task.codec());
        assertNull(task.train().learningRate());
        String extra = TASK.replace("\"deadline\"", "\"bonus\":1,\"deadline\"");
        FedLiteClient strict = new FedLiteClient(new ScriptedTransport().answer(200, extra, Map.of()), vectorKey(), INFO, "dev_1");
        DecodeException e = assertThrows(DecodeException.class, () -> strict.checkin(new Eligibility(true, true, true), null, null));
        assertEquals("check-in response.task: unknown field \"bonus\"", e.getMessage());
    }

    @Test
    public void errorAnswersBecomeServerRejectionsWithTheirCode() throws Exception {
        String revoked = "{\"error\":{\"code\":\"device_revoked\",\"message\":\"device dev_1 was revoked\"}}";
        FedLiteClient client = new FedLiteClient(new ScriptedTransport().answer(403, revoked, Map.of()), vectorKey(), INFO, "dev_1");
        ServerRejection e = assertThrows(ServerRejection.class, () -> client.checkin(new Eligibility(true, true, true), null, null));
        assertEquals(403, e.status());
        assertTrue(e.enrolmentLost());
        assertEquals("server refused (403 device_revoked): device dev_1 was revoked", e.getMessage());
        FedLiteClient proxy = new FedLiteClient(new ScriptedTransport().answer(502, "<html>bad gateway</html>", Map.of()),
                vectorKey(), INFO, "dev_1");
        assertEquals("unexpected_response",
                assertThrows(ServerRejection.class, () -> proxy.checkin(new Eligibility(true, true, true), null, null)).code());
    }

    @Test
    public void aStaleTimestampIsRetriedOnceOnTheServersClock() throws Exception {
        String stale = "{\"error\":{\"code\":\"stale_timestamp\",\"message\":\"timestamp is 1000 s off\"}}";
        ScriptedTransport transport = new ScriptedTransport()
                .answer(401, stale, Map.of("X-FedLite-Server-Time", "1760001000"))
                .answer(200, "{\"action\":\"wait\",\"retry_after_min\":1,\"retry_after_max\":1,\"reason\":\"no_round\"}", Map.of());
        FedLiteClient client = new FedLiteClient(transport, vectorKey(), INFO, "dev_1", () -> 1760000000L);
        client.checkin(new Eligibility(true, true, true), null, null);
        assertEquals("1760000000", transport.sent.get(0).headers().get(RequestSigning.HEADER_TIMESTAMP));
        assertEquals("1760001000", transport.sent.get(1).headers().get(RequestSigning.HEADER_TIMESTAMP));
    }

    @Test
    public void uploadsRetryTheSameBytesAfterNetworkErrorsAnd429() throws Exception {
        Task task = ((CheckinResponse.Train) CheckinResponse.parse(TASK.getBytes(StandardCharsets.UTF_8))).task();
        String limited = "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}";
        ScriptedTransport transport = new ScriptedTransport()
                .fail("connection reset")
                .answer(429, limited, Map.of("Retry-After", "7"))
                .answer(202, "{\"status\":\"accepted\",\"task_id\":\"tsk_1\",\"round\":7}", Map.of());
        List<Long> sleeps = new ArrayList<>();
        FedLiteClient client = new FedLiteClient(transport, vectorKey(), INFO, "dev_1");
        byte[] body = {1, 2, 3};
        UploadAck ack = client.upload(task, body, 3, sleeps::add);
        assertEquals(new UploadAck("accepted", "tsk_1", 7), ack);
        assertEquals(List.of(1L, 7L), sleeps);
        for (HttpRequest request : transport.sent) {
            assertArrayEquals(body, request.body());
            assertEquals("application/octet-stream", request.headers().get("Content-Type"));
        }
        assertEquals(3, transport.sent.stream().map(r -> r.headers().get(RequestSigning.HEADER_NONCE)).distinct().count());
        FedLiteClient down = new FedLiteClient(new ScriptedTransport().fail("refused").fail("refused"), vectorKey(), INFO, "dev_1");
        assertThrows(TransportException.class, () -> down.upload(task, body, 2, seconds -> { }));
    }

    @Test
    public void downloadsAreCheckedAgainstTheirHash() throws Exception {
        Task task = ((CheckinResponse.Train) CheckinResponse.parse(TASK.getBytes(StandardCharsets.UTF_8))).task();
        FedLiteClient good = new FedLiteClient(new ScriptedTransport().answer(200, "model", Map.of()), vectorKey(), INFO, "dev_1");
        assertArrayEquals("model".getBytes(StandardCharsets.UTF_8), good.downloadModel(task.model()));
        FedLiteClient bad = new FedLiteClient(new ScriptedTransport().answer(200, "modem", Map.of()), vectorKey(), INFO, "dev_1");
        assertTrue(assertThrows(IntegrityException.class, () -> bad.downloadModel(task.model())).getMessage().contains("sha256"));
        FedLiteClient noHeader = new FedLiteClient(new ScriptedTransport().answer(200, "w", Map.of()), vectorKey(), INFO, "dev_1");
        assertThrows(DecodeException.class, () -> noHeader.downloadWeights(task.weights(), null));
        ScriptedTransport delta = new ScriptedTransport().answer(200, "delta",
                Map.of("X-FedLite-Sha256", Hashes.sha256Hex("delta".getBytes(StandardCharsets.UTF_8)), "X-FedLite-Delta-From", "5"));
        FedLiteClient.WeightsDownload download = new FedLiteClient(delta, vectorKey(), INFO, "dev_1").downloadWeights(task.weights(), 5L);
        assertEquals(Long.valueOf(5), download.deltaFrom());
        assertEquals("/v1/weights/6?encoding=fp32&since=5", delta.sent.get(0).target());
    }

    @Test
    public void signedRequestsNeedAnEnrolment() throws Exception {
        FedLiteClient client = new FedLiteClient(new ScriptedTransport(), vectorKey(), INFO, null);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> client.checkin(new Eligibility(true, true, true), null, null));
        assertTrue(e.getMessage().contains("enroll"));
    }
}
