package org.fedlite.core.protocol;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.fedlite.core.Hashes;
import org.fedlite.core.json.JsonObject;
import org.fedlite.core.support.Vectors;
import org.junit.Test;

/** The Java signer reproduces tests/vectors/protocol_signing.json byte for byte. */
public class RequestSigningTest {
    @Test
    public void seedGivesTheVectorPublicKey() throws Exception {
        JsonObject vectors = Vectors.json("protocol_signing.json");
        Ed25519Signer signer = Ed25519Signer.fromSeed(Hashes.unhex(vectors.string("private_seed_hex")));
        assertEquals(vectors.string("public_key_b64"), Base64.getEncoder().encodeToString(signer.publicKey()));
    }

    @Test
    public void everyCaseSignsToTheVectorSignature() throws Exception {
        JsonObject vectors = Vectors.json("protocol_signing.json");
        Ed25519Signer signer = Ed25519Signer.fromSeed(Hashes.unhex(vectors.string("private_seed_hex")));
        int checked = 0;
        for (Object item : vectors.list("cases")) {
            JsonObject c = JsonObject.of("case", item);
            byte[] body = Hashes.unhex(c.string("body_hex"));
            String deviceId = c.has("device_id") ? c.string("device_id") : null;
            byte[] canonical = RequestSigning.canonicalRequest(c.string("method"), c.string("target"),
                    deviceId == null ? "" : deviceId, c.string("timestamp"), c.string("nonce"), body);
            assertEquals(c.string("canonical_utf8"), new String(canonical, StandardCharsets.UTF_8));
            Map<String, String> headers = RequestSigning.headers(signer, c.string("method"), c.string("target"),
                    deviceId, Long.parseLong(c.string("timestamp")), c.string("nonce"), body);
            assertEquals(c.string("signature_b64"), headers.get(RequestSigning.HEADER_SIGNATURE));
            assertEquals(deviceId, headers.get(RequestSigning.HEADER_DEVICE));
            checked++;
        }
        assertEquals(vectors.list("cases").size(), checked);
    }

    @Test
    public void freshKeysSignVerifiably() {
        Ed25519Signer signer = Ed25519Signer.generate();
        Ed25519Signer again = Ed25519Signer.fromSeed(signer.seed());
        assertArrayEquals(signer.publicKey(), again.publicKey());
        byte[] message = "FEDLITE-SIG-V1".getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(signer.sign(message), again.sign(message));
        assertEquals(64, signer.sign(message).length);
    }
}
